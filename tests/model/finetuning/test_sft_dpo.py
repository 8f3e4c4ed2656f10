"""SFT then DPO on the tiny model: the loss falls on a memorisable set, DPO logs reward margins,
the merged result reloads and generates with the twin's chat template, a re-run reuses the
finished stages."""

import json
import math
from pathlib import Path

import pytest

from tests.model.conftest import FACTS, tiny_config


@pytest.fixture(scope="module")
def trained(tiny_base_model: Path, tmp_path_factory: pytest.TempPathFactory):
    """One SFT+DPO run on the tiny model shared by this module's tests."""
    import torch

    from llm_twin.model.finetuning.run import run_training
    from llm_twin.settings import Settings
    from tests.model.conftest import save_datasets

    torch.set_num_threads(1)
    data_dir = tmp_path_factory.mktemp("train-data")
    save_datasets(data_dir)
    settings = Settings(_env_file=None, DATA_DIR=data_dir)
    config = tiny_config(tiny_base_model)
    return run_training(config, settings), config, settings


def test_sft_lowers_the_loss_on_a_memorisable_set(trained) -> None:
    outcome, _, _ = trained
    metrics = outcome.metrics
    assert metrics["sft_steps"] == 30
    assert metrics["sft_train_samples"] == len(FACTS)
    assert metrics["sft_loss_end"] < 0.5 * metrics["sft_loss_start"], metrics
    assert math.isfinite(metrics["sft_eval_loss"])
    losses = [entry["loss"] for entry in outcome.history["sft"] if "loss" in entry]
    assert len(losses) >= 30  # logged every step (plus the first)


def test_dpo_runs_and_logs_reward_margins(trained) -> None:
    outcome, _, _ = trained
    margins = [e["rewards/margins"] for e in outcome.history["dpo"] if "rewards/margins" in e]
    assert len(margins) >= 10
    assert outcome.metrics["dpo_steps"] == 10
    # Training on the pairs separates chosen from rejected: the margin grows above zero.
    assert outcome.metrics["dpo_reward_margin_end"] > 0
    assert outcome.metrics["dpo_reward_margin_end"] > margins[0]


def test_merged_model_reloads_and_generates_with_the_chat_template(trained) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from llm_twin.domain.prompts import TRAINING_CHAT_TEMPLATE, build_messages, render_prompt

    outcome, _, _ = trained
    model_dir = outcome.model_dir
    assert (model_dir / "config.json").is_file()
    assert not list(model_dir.glob("adapter_config.json"))  # merged, not an adapter
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    assert tokenizer.chat_template == TRAINING_CHAT_TEMPLATE
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    prompt = render_prompt(tokenizer, build_messages(FACTS[0][0]))
    inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    output = model.generate(**inputs, max_new_tokens=12, do_sample=False)
    answer = tokenizer.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    assert answer.strip()
    # 30 steps on six facts: the model recites the memorised answer's start.
    assert answer.strip().startswith("My favourite"), answer
    assert set(outcome.adapters) == {"sft", "dpo"}
    for adapter in outcome.adapters.values():
        assert (Path(adapter) / "adapter_config.json").is_file()
    assert outcome.curves.stat().st_size > 5_000


def test_a_rerun_reuses_finished_stages(trained) -> None:
    from llm_twin.model.finetuning.run import run_training

    outcome, config, settings = trained
    again = run_training(config, settings)
    assert again.fingerprint == outcome.fingerprint
    assert again.metrics == outcome.metrics
    record = json.loads((outcome.run_dir / "sft" / "stage_result.json").read_text())
    assert record["steps"] == 30
