"""Continued pretraining (pt) on the tiny model: packing, the documents it may see (never the
instruct test split's, never another author's), the loss falling on a memorisable text, SFT
starting from the pt-merged model, the registry layout, the fingerprint, full fine-tuning and a
resume after a SIGKILL mid-stage."""

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.model.finetuning.conftest import (
    AUTHOR,
    DOCUMENTS,
    HELD_OUT_TEXT,
    TRAIN_IDS,
    pt_config,
    save_documents,
    save_pt_datasets,
)

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def tokenizer(tiny_base_model: Path):
    from llm_twin.model.finetuning.stage import prepare_tokenizer

    return prepare_tokenizer(tiny_base_model)


def pt_data(directory: Path) -> Path:
    save_pt_datasets(directory)
    save_documents(directory)
    return directory


def settings_for(data_dir: Path):
    from llm_twin.settings import Settings

    return Settings(_env_file=None, DATA_DIR=data_dir)


@pytest.fixture(scope="module")
def pt_run(tiny_base_model: Path, tmp_path_factory: pytest.TempPathFactory):
    """One pt (LoRA) + SFT + DPO run on the tiny model shared by this module's tests."""
    import torch

    from llm_twin.model.finetuning.run import prepare_run, run_training

    torch.set_num_threads(1)
    settings = settings_for(pt_data(tmp_path_factory.mktemp("pt-data")))
    config = pt_config(tiny_base_model)
    inputs = prepare_run(config, settings)
    return run_training(config, settings, inputs), inputs, config, settings


def test_packing_joins_documents_with_eos_and_cuts_blocks(tokenizer) -> None:
    from llm_twin.model.finetuning.data import pack_texts, pt_splits

    texts = ["I write about LoRA.", "Small models learn fast.", "Quantization"]
    blocks = pack_texts(texts, tokenizer, 8)
    stream = []
    for text in texts:
        stream += tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    assert [token for block in blocks for token in block] == stream
    assert all(len(block) == 8 for block in blocks[:-1]) and 1 < len(blocks[-1]) <= 8
    assert stream.count(tokenizer.eos_token_id) == len(texts)

    packed = pt_splits(texts, tokenizer, 8, eval_blocks=2, seed=3)
    assert len(packed.train) + len(packed.test) == len(blocks)
    assert packed.train_tokens == sum(len(ids) for ids in packed.train["input_ids"])
    assert packed.documents == 3
    again = pt_splits(texts, tokenizer, 8, eval_blocks=2, seed=3)
    assert again.test["input_ids"] == packed.test["input_ids"]  # a seeded pick
    # Never every block set aside: something is always left to train on.
    assert len(pt_splits(texts[:1], tokenizer, 64, eval_blocks=5, seed=3).train) == 1


def test_pt_reads_only_the_authors_train_documents(pt_run, tokenizer) -> None:
    _, inputs, config, _ = pt_run
    corpus = inputs.corpus
    assert {d.document_id for d in corpus.documents} == TRAIN_IDS
    assert "doc-test" in corpus.held_out_ids
    assert corpus.authors == (AUTHOR,)
    assert all(HELD_OUT_TEXT not in d.content for d in corpus.documents)

    from llm_twin.model.finetuning.data import pt_splits

    # The blocks the stage trains on, decoded: the held-out text is in none of them.
    texts = [d.content for d in corpus.documents]
    packed = pt_splits(texts, tokenizer, config.pt.block_size, 0, config.seed)
    decoded = tokenizer.decode([t for ids in packed.train["input_ids"] for t in ids])
    assert "Zebra" not in decoded and "gardening" not in decoded
    assert "Small models learn the voice" in decoded


def test_pt_lowers_the_loss_on_a_memorisable_text(pt_run) -> None:
    outcome, inputs, _, _ = pt_run
    metrics = outcome.metrics
    assert metrics["pt_steps"] == 30
    assert metrics["pt_train_documents"] == 3
    assert metrics["pt_train_tokens"] > 0 and metrics["pt_corpus_tokens"] > 0
    assert metrics["pt_loss_end"] < 0.5 * metrics["pt_loss_start"], metrics
    assert math.isfinite(metrics["pt_eval_loss"])
    record = json.loads((Path(outcome.adapters["pt"]).parent / "corpus.json").read_text())
    assert {d["document_id"] for d in record["documents"]} == TRAIN_IDS
    assert record["digest"] == inputs.corpus.digest and "doc-test" in record["held_out_ids"]


def test_sft_starts_from_the_pt_merged_model(pt_run) -> None:
    outcome, _, _, _ = pt_run
    assert set(outcome.adapters) == {"pt", "sft", "dpo"}
    assert outcome.pt_model == ""
    pt_merged = Path(outcome.adapters["pt"]).parent / "merged"
    sft_adapter = json.loads((Path(outcome.adapters["sft"]) / "adapter_config.json").read_text())
    pt_adapter = json.loads((Path(outcome.adapters["pt"]) / "adapter_config.json").read_text())
    assert Path(sft_adapter["base_model_name_or_path"]) == pt_merged
    assert pt_adapter["r"] == 8 and pt_adapter["target_modules"]
    assert outcome.history["pt"] and outcome.curves.stat().st_size > 5_000


def test_a_run_changing_only_sft_reuses_the_pt_stage(pt_run) -> None:
    from llm_twin.model.finetuning.run import run_training

    outcome, _, config, settings = pt_run
    other = config.model_copy(update={"sft": config.sft.model_copy(update={"max_steps": 2})})
    again = run_training(other, settings)
    assert again.fingerprint != outcome.fingerprint
    assert again.adapters["pt"] == outcome.adapters["pt"]
    assert again.history["pt"] == outcome.history["pt"]
    assert again.metrics["sft_steps"] == 2


def test_a_registered_version_holds_the_pt_adapter(pt_run, tmp_path: Path) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from llm_twin.model.registry import ModelRegistry

    outcome, _, config, _ = pt_run
    registry = ModelRegistry(tmp_path / "registry", zenml=False)
    version = registry.register(outcome, config, move_model=False)
    for name in ("adapters/pt/adapter_config.json", "adapters/sft", "model/config.json"):
        assert (version.path / name).exists(), name
    assert not (version.path / "pt_model").exists()
    for key in ("pt_loss_start", "pt_loss_end", "pt_eval_loss", "pt_steps", "pt_train_tokens"):
        assert key in version.metrics, key
    assert version.metrics["pt_train_documents"] == 3
    card = (version.path / "README.md").read_text()
    assert "continued-pretrained" in card and "pt_loss_end" in card
    # The pt adapter applies to the base model the version names.
    base = AutoModelForCausalLM.from_pretrained(config.base_model)
    merged = PeftModel.from_pretrained(base, str(version.path / "adapters" / "pt"))
    assert merged.merge_and_unload().config.vocab_size == base.config.vocab_size


def test_fingerprint_follows_the_pt_config_and_the_trained_documents(
    tiny_base_model: Path, tmp_path: Path
) -> None:
    from llm_twin.model.finetuning.run import prepare_run

    settings = settings_for(pt_data(tmp_path / "data"))
    config = pt_config(tiny_base_model)
    first = prepare_run(config, settings).fingerprint
    assert prepare_run(config, settings).fingerprint == first
    changed = pt_config(tiny_base_model, pt={"learning_rate": 5e-3})
    assert prepare_run(changed, settings).fingerprint != first
    off = pt_config(tiny_base_model, pt={"enabled": False})
    assert prepare_run(off, settings).fingerprint != first
    # Editing the held-out document changes nothing the stage trains on...
    edited_test = [(i, a, c + " more" if i == "doc-test" else c) for i, a, c in DOCUMENTS]
    save_documents(settings.storage.data_dir, edited_test)
    assert prepare_run(config, settings).fingerprint == first
    # ...editing a train document does.
    edited_train = [(i, a, c + " more" if i == "doc-train-2" else c) for i, a, c in DOCUMENTS]
    save_documents(settings.storage.data_dir, edited_train)
    assert prepare_run(config, settings).fingerprint != first


def test_full_fine_tuning_saves_a_pt_model(tiny_base_model: Path, tmp_path: Path) -> None:
    import torch

    from llm_twin.model.finetuning.run import run_training
    from llm_twin.model.registry import ModelRegistry

    torch.set_num_threads(1)
    settings = settings_for(pt_data(tmp_path / "data"))
    config = pt_config(
        tiny_base_model,
        pt={"method": "full", "max_steps": 6, "learning_rate": 1e-3, "eval_blocks": 0},
        dpo={"enabled": False},
    )
    outcome = run_training(config, settings)
    assert "pt" not in outcome.adapters and set(outcome.adapters) == {"sft"}
    pt_model = Path(outcome.pt_model)
    assert (pt_model / "config.json").is_file() and not (pt_model / "adapter_config.json").exists()
    assert outcome.metrics["pt_loss_end"] < outcome.metrics["pt_loss_start"]
    sft_adapter = json.loads((Path(outcome.adapters["sft"]) / "adapter_config.json").read_text())
    assert Path(sft_adapter["base_model_name_or_path"]) == pt_model
    version = ModelRegistry(tmp_path / "registry", zenml=False).register(outcome, config)
    assert (version.path / "pt_model" / "config.json").is_file()
    assert not (version.path / "adapters" / "pt").exists()


def test_a_run_killed_mid_pt_resumes_from_its_last_checkpoint(
    tiny_base_model: Path, tmp_path: Path
) -> None:
    from loguru import logger

    from llm_twin.model.finetuning.run import prepare_run, run_training

    data_dir = pt_data(tmp_path / "data")
    settings = settings_for(data_dir)
    overrides = {"pt": {"max_steps": 400, "save_steps": 5, "eval_blocks": 0}}
    config = pt_config(tiny_base_model, **overrides, dpo={"enabled": False})
    config_file = tmp_path / "training.yaml"
    config_file.write_text(yaml.safe_dump({"parameters": config.model_dump(mode="json")}))
    inputs = prepare_run(config, settings)
    pt_folder = (
        data_dir
        / "training"
        / "pt"
        / config.pt_fingerprint(inputs.base_model, inputs.corpus.digest)
    )
    checkpoints = pt_folder / "checkpoints"
    env = {**os.environ, "DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}
    env |= {"OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    process = subprocess.Popen(
        [sys.executable, "-m", "llm_twin.model.finetuning", "--config", str(config_file)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while not (checkpoints / "checkpoint-10" / "trainer_state.json").is_file():
        assert process.poll() is None and time.monotonic() < deadline, "no checkpoint-10"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL

    messages: list[str] = []
    sink = logger.add(lambda message: messages.append(str(message)), level="INFO")
    try:
        outcome = run_training(config, settings)
    finally:
        logger.remove(sink)
    resumed = [m for m in messages if "resuming from" in m and "checkpoint-" in m]
    assert resumed, messages
    step = int(resumed[0].rsplit("checkpoint-", 1)[1].split()[0])
    assert 10 <= step < 400
    assert outcome.metrics["pt_steps"] == 400
    assert json.loads((checkpoints.parent / "stage_result.json").read_text())["steps"] == 400


def test_a_sagemaker_job_ships_the_pt_documents(tiny_base_model: Path, tmp_path: Path) -> None:
    import shutil

    from llm_twin.application.dataset import store
    from llm_twin.model.finetuning.config import parse_config
    from llm_twin.model.finetuning.corpus import load_corpus
    from llm_twin.model.finetuning.sagemaker_launch import job_inputs

    settings = settings_for(pt_data(tmp_path / "data"))
    config = pt_config(tiny_base_model)
    inputs = job_inputs(config, settings)
    shipped = parse_config(yaml.safe_load(inputs.config_text)["parameters"])
    assert shipped.pt.documents_file.startswith("datasets/pt-corpus/")
    # The container: the datasets channel copied to its DATA_DIR/datasets, no feature store.
    job_dir = tmp_path / "job"
    for subpath, folder in inputs.channels["datasets"].items():
        shutil.copytree(folder, job_dir / "datasets" / subpath)
    job_settings = settings_for(job_dir)
    instruct = store.load(job_dir, "instruct", shipped.instruct_dataset_version)
    corpus = load_corpus(job_settings, instruct, shipped.pt)
    local = load_corpus(settings, instruct, config.pt)
    assert corpus.digest == local.digest
    assert {d.document_id for d in corpus.documents} == TRAIN_IDS
