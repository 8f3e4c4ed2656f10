"""The compared models, loaded one at a time, and their greedy answers to the test prompts.

Prompts are built with :func:`llm_twin.model.prompts.build_messages` and rendered with each
model's own chat template, exactly as the inference service does (no retrieved context: the
format the twin was trained on). Generation is greedy and batched (left padding) with
transformers; with ``use_vllm=auto`` it runs on vLLM when vLLM is importable and CUDA is
available (a GPU-only path: this project's CPU environment cannot run it).
"""

import dataclasses
import importlib.util
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from loguru import logger

from llm_twin.model.prompts import build_messages, render_prompt


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """One compared model.

    Attributes:
        name: ``base``, ``sft`` or ``dpo``.
        path: Hugging Face model folder (or Hub id) of the weights.
        tokenizer_path: Where its tokenizer (and chat template) comes from.
        adapter: A LoRA adapter folder merged into ``path``'s weights in memory, if any.
    """

    name: str
    path: str
    tokenizer_path: str
    adapter: str | None = None


@dataclasses.dataclass
class LoadedModel:
    """A model ready to score and generate.

    Attributes:
        spec: What was loaded.
        model: The transformers causal LM (eval mode).
        tokenizer: Its tokenizer (left padding, a pad token set).
        device: ``cpu`` or ``cuda``.
    """

    spec: ModelSpec
    model: Any
    tokenizer: Any
    device: str


def resolve_device(device: str) -> str:
    """``auto`` → ``cuda`` when available, else ``cpu``."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@contextmanager
def loaded(spec: ModelSpec, device: str = "cpu") -> Iterator[LoadedModel]:
    """Load ``spec`` (merging its adapter when it has one); free it on exit.

    Args:
        spec: The model.
        device: ``cpu`` or ``cuda``.
    """
    import gc

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    tokenizer = AutoTokenizer.from_pretrained(spec.tokenizer_path)
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError(f"{spec.name}: no chat template in the tokenizer at {spec.tokenizer_path}")
    tokenizer.padding_side = "left"
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(spec.path, dtype=dtype)
    if spec.adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, spec.adapter).merge_and_unload()
    model.to(device).eval()
    logger.info(
        "evaluating {} ({}{}) on {}",
        spec.name,
        spec.path,
        f" + {spec.adapter}" if spec.adapter else "",
        device,
    )
    try:
        yield LoadedModel(spec, model, tokenizer, device)
    finally:
        del model
        gc.collect()
        if device == "cuda":
            torch.cuda.empty_cache()


def prompts_for(tokenizer: Any, instructions: Sequence[str]) -> list[str]:
    """The rendered generation prompts of ``instructions`` (system prompt + question)."""
    return [render_prompt(tokenizer, build_messages(text)) for text in instructions]


def generate(
    model: LoadedModel,
    instructions: Sequence[str],
    max_new_tokens: int,
    batch_size: int,
    repetition_penalty: float = 1.0,
) -> list[str]:
    """Greedy answers of ``model`` to ``instructions``, in order.

    Args:
        model: The loaded model.
        instructions: The test instructions.
        max_new_tokens: Most tokens per answer.
        batch_size: Prompts per ``generate`` call.
        repetition_penalty: 1 for none.
    """
    import torch

    tokenizer = model.tokenizer
    prompts = prompts_for(tokenizer, instructions)
    limit = int(getattr(model.model.config, "max_position_embeddings", 0) or 0) - max_new_tokens
    answers: list[str] = []
    for start in range(0, len(prompts), batch_size):
        batch = tokenizer(
            prompts[start : start + batch_size],
            return_tensors="pt",
            padding=True,
            add_special_tokens=False,
        )
        if limit > 0 and batch["input_ids"].shape[1] > limit:
            # Keep the end (question + generation prompt), as the inference service does.
            batch = {name: value[:, -limit:] for name, value in batch.items()}
        batch = {name: value.to(model.device) for name, value in batch.items()}
        with torch.inference_mode():
            output = model.model.generate(
                **batch,
                do_sample=False,
                max_new_tokens=max_new_tokens,
                repetition_penalty=repetition_penalty,
                pad_token_id=tokenizer.pad_token_id,
            )
        new_tokens = output[:, batch["input_ids"].shape[1] :]
        answers += [
            text.strip() for text in tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
        ]
    return answers


def vllm_available() -> bool:
    """True when vLLM is installed and a CUDA device is visible."""
    if importlib.util.find_spec("vllm") is None:
        return False
    import torch

    return torch.cuda.is_available()


def generate_vllm(
    model_path: str,
    tokenizer_path: str,
    instructions: Sequence[str],
    max_new_tokens: int,
    repetition_penalty: float = 1.0,
) -> list[str]:
    """Greedy answers with vLLM (GPU only; ``model_path`` must hold merged weights).

    Args:
        model_path: Merged Hugging Face model folder.
        tokenizer_path: Folder of the tokenizer whose chat template renders the prompts.
        instructions: The test instructions.
        max_new_tokens: Most tokens per answer.
        repetition_penalty: 1 for none.
    """
    from transformers import AutoTokenizer
    from vllm import LLM, SamplingParams

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_path)
    engine = LLM(model=model_path, tokenizer=tokenizer_path, gpu_memory_utilization=0.5)
    params = SamplingParams(
        temperature=0.0, max_tokens=max_new_tokens, repetition_penalty=repetition_penalty
    )
    outputs = engine.generate(prompts_for(tokenizer, instructions), params)
    return [output.outputs[0].text.strip() for output in outputs]


def save_merged(model: LoadedModel, directory: Path) -> Path:
    """Save ``model`` (adapter merged) with its tokenizer, for engines that need a folder."""
    model.model.save_pretrained(directory)
    model.tokenizer.save_pretrained(directory)
    return directory
