"""Which engine answers for each compared model: the pt and sft models (adapters merged in memory)
answer on a CTranslate2 export of their merged weights when their base answers on CTranslate2."""

import dataclasses
from pathlib import Path

import pytest
from tiny_llm import save_tiny_chat_llama

pytest.importorskip("ctranslate2")

from llm_twin.infrastructure.llm.exports import EXPORT_MARKER, convert_to_ct2
from llm_twin.model.evaluation.generation import (
    ModelSpec,
    export_merged,
    generate_ct2,
    loaded,
    merged_ct2_wanted,
)

TEXTS = ["GPTQ quantizes the weights of a large language model to 4 bits."] * 8


def _adapter(base: Path, folder: Path) -> Path:
    """A LoRA adapter on ``base`` whose update is not zero (so merging changes the weights)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(base),
        LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", task_type="CAUSAL_LM"),
    )
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(std=0.05)
    model.save_pretrained(folder)
    return folder


def test_merged_models_answer_on_ct2_when_their_base_does(tmp_path: Path) -> None:
    import torch

    torch.set_num_threads(1)
    base = save_tiny_chat_llama(tmp_path / "base", TEXTS, 512)
    spec = ModelSpec("sft", str(base), str(base), (str(_adapter(base, tmp_path / "sft")),))

    assert not merged_ct2_wanted(spec, "cpu")  # the base has no export: transformers answers
    convert_to_ct2(base)
    assert merged_ct2_wanted(spec, "cpu")
    assert not merged_ct2_wanted(spec, "cpu", "transformers")  # LLM_ENGINE=transformers
    assert not merged_ct2_wanted(spec, "cuda")
    assert not merged_ct2_wanted(dataclasses.replace(spec, adapters=()), "cpu")

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with loaded(spec) as model:
        export = export_merged(model, scratch)
    assert (export / EXPORT_MARKER).is_file() and export.parent == scratch
    on_ct2 = generate_ct2(export, ["What is GPTQ?"], 6, 1)
    assert len(on_ct2) == 1 and on_ct2[0]
    # The export holds the merged weights, not the base's (the adapter changes the answer).
    base_answer = generate_ct2(base.with_name(base.name + "-ct2-int8"), ["What is GPTQ?"], 6, 1)
    assert on_ct2 != base_answer
