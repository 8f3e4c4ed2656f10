"""The compared models, loaded one at a time, and their greedy answers to the test prompts.

Prompts are built with :func:`llm_twin.domain.prompts.build_messages` and rendered with each
model's own chat template, exactly as the inference service does (no retrieved context: the
format the twin was trained on). Each model is the service's local backend
(:class:`~llm_twin.infrastructure.llm.local.TransformersBackend`, which also scores perplexity):
generation is greedy and batched with its ``generate_batch``, on the CTranslate2 export where the
service would use it (:func:`ct2_export_for`; the pt and sft models then answer on an export
of their merged weights, :func:`merged_ct2_wanted`); with ``use_vllm=auto`` it runs on vLLM when
vLLM is importable and CUDA is available (a GPU-only path: this project's CPU environment cannot
run it).
"""

import dataclasses
import importlib.util
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from loguru import logger

from llm_twin.domain.prompts import build_messages, render_prompt
from llm_twin.infrastructure.llm.base import GenerationParams
from llm_twin.infrastructure.llm.factory import local_backend

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from llm_twin.infrastructure.llm.ct2 import CTranslate2Backend
    from llm_twin.infrastructure.llm.local import TransformersBackend


#: The compared models, in report order: the base model, after continued pretraining (when the
#: version ran it), after SFT, after DPO (when the version was aligned).
MODEL_ORDER = ("base", "pt", "sft", "dpo")


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """One compared model.

    Attributes:
        name: One of :data:`MODEL_ORDER`.
        path: Hugging Face model folder (or Hub id) of the weights.
        tokenizer_path: Where its tokenizer (and chat template) comes from.
        adapters: LoRA adapter folders merged into ``path``'s weights in memory, in this order
            (each on the result of the previous: ``adapters/pt`` then ``adapters/sft``).
    """

    name: str
    path: str
    tokenizer_path: str
    adapters: tuple[str, ...] = ()

    def describe(self) -> str:
        """``path + adapter + ...`` (what the report lists)."""
        return " + ".join([self.path, *self.adapters])


def resolve_device(device: str) -> str:
    """``auto`` → ``cuda`` when available, else ``cpu``."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@contextmanager
def loaded(spec: ModelSpec, device: str = "cpu") -> Iterator["TransformersBackend"]:
    """``spec`` loaded as a local backend (its adapters merged in order, left padding and a pad
    token set for batches); freed on exit.

    Args:
        spec: The model.
        device: ``cpu`` or ``cuda``.

    Raises:
        LLMUnavailable: no model folder, or its tokenizer has no chat template.
    """
    backend = local_backend(
        spec.path,
        device,
        model_id=spec.name,
        tokenizer_path=spec.tokenizer_path,
        adapter=spec.adapters,
        allow_hub_id=True,
    )
    backend.load()
    backend.pad_left()
    logger.info("evaluating {} ({}) on {}", spec.name, spec.describe(), device)
    try:
        yield backend
    finally:
        backend.close()


def prompts_for(tokenizer: "PreTrainedTokenizerBase", instructions: Sequence[str]) -> list[str]:
    """The rendered generation prompts of ``instructions`` (system prompt + question)."""
    return [render_prompt(tokenizer, build_messages(text)) for text in instructions]


def generate(
    model: "TransformersBackend | CTranslate2Backend",
    instructions: Sequence[str],
    max_new_tokens: int,
    batch_size: int,
    repetition_penalty: float = 1.0,
) -> list[str]:
    """Greedy answers of ``model`` to ``instructions``, in order (prompts cut to the context
    left for the answer, keeping their end, as the inference service does).

    Args:
        model: The loaded model.
        instructions: The test instructions.
        max_new_tokens: Most tokens per answer.
        batch_size: Prompts per ``generate`` call.
        repetition_penalty: 1 for none.
    """
    params = GenerationParams(
        max_new_tokens=max_new_tokens, temperature=0.0, repetition_penalty=repetition_penalty
    )
    # Batched by prompt length (answers returned in the caller's order): a batch is padded to
    # its longest prompt, and one long grounded prompt among short ones made the whole batch
    # pay for it.
    order = sorted(range(len(instructions)), key=lambda index: len(instructions[index]))
    conversations = [build_messages(instructions[index]) for index in order]
    completions = model.generate_batch(conversations, params, batch_size=batch_size)
    texts = [""] * len(instructions)
    for index, completion in zip(order, completions, strict=True):
        texts[index] = completion.text.strip()
    return texts


def ct2_export_for(spec: ModelSpec, device: str, engine: str = "auto") -> Path | None:
    """The CTranslate2 export that answers for ``spec`` (the engine the service would use), or
    None: on the CPU, a folder with an export and its own tokenizer, no adapter. The pt and sft
    models (adapters merged in memory) have none: see :func:`merged_ct2_wanted`.

    Args:
        spec: The model.
        device: The resolved device.
        engine: ``LLM_ENGINE`` (``transformers``: never).
    """
    from llm_twin.infrastructure.llm.exports import ct2_export_dir

    folder = Path(spec.path)
    if spec.adapters or spec.tokenizer_path != spec.path or not folder.is_dir():
        return None
    return ct2_export_dir(folder) if _answers_on_ct2(folder, device, engine) else None


def _answers_on_ct2(folder: Path, device: str, engine: str) -> bool:
    """True when the model folder ``folder`` answers on CTranslate2 for ``LLM_ENGINE`` ``engine``
    (``ct2`` is honoured only where an export exists: the evaluation never converts a model the
    service would not run on it)."""
    from llm_twin.infrastructure.llm.factory import engine_for

    mode = "transformers" if engine == "transformers" else "auto"
    return engine_for(folder, mode, device) == "ct2"


def merged_ct2_wanted(spec: ModelSpec, device: str, engine: str = "auto") -> bool:
    """True when ``spec`` is adapters merged into a model that answers on CTranslate2 (the base's
    export exists, CPU): its merged weights are exported for its answers too
    (:func:`export_merged`), so every compared model answers on the same engine, and faster
    (about 4 s to save and convert SmolLM2-135M against ~15 s saved on transformers' answers).

    Args:
        spec: The model.
        device: The resolved device.
        engine: ``LLM_ENGINE`` (``transformers``: never).
    """
    folder = Path(spec.path)
    return bool(spec.adapters) and folder.is_dir() and _answers_on_ct2(folder, device, engine)


def export_merged(model: "TransformersBackend", directory: Path) -> Path:
    """The int8 CTranslate2 export of ``model`` (adapters merged), written under ``directory``
    (a scratch folder the caller removes)."""
    from llm_twin.infrastructure.llm.exports import convert_to_ct2

    merged = save_merged(model, directory / "merged")
    return convert_to_ct2(merged, directory / "merged-ct2-int8")


def generate_ct2(
    export: Path,
    instructions: Sequence[str],
    max_new_tokens: int,
    batch_size: int,
    repetition_penalty: float = 1.0,
) -> list[str]:
    """Greedy answers of the CTranslate2 export ``export`` (as :func:`generate`)."""
    from llm_twin.infrastructure.llm.factory import ct2_backend

    backend = ct2_backend(export, model_id=export.name)
    backend.load()
    try:
        return generate(backend, instructions, max_new_tokens, batch_size, repetition_penalty)
    finally:
        backend.close()


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


def save_merged(model: "TransformersBackend", directory: Path) -> Path:
    """Save ``model`` (adapter merged) with its tokenizer, for engines that need a folder."""
    model.check()
    assert model.model is not None and model.tokenizer is not None
    model.model.save_pretrained(directory)
    model.tokenizer.save_pretrained(directory)
    return directory
