"""Generator on the offline local LLM (SmolLM2 by default) through the local LLM backend.

The local backend of the engine ``LLM_ENGINE`` picks (CTranslate2 when the model has an int8
export, else transformers) loads the model and decodes prompts in batches (``generate_batch``:
``batch_size`` prompts at a time), which on CPU yields several times the tokens per second of
one-answer-at-a-time streaming. Small models do not follow JSON
formats reliably, so prompts ask for plain text, which is cleaned (first line, quotes and labels
removed) and validated; an empty or unusable reply counts as a failure.
"""

import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from loguru import logger

from llm_twin.application.dataset import prompts
from llm_twin.application.dataset.generation import Generated, Generator
from llm_twin.application.dataset.samples import Extract
from llm_twin.domain.exceptions import ImproperlyConfigured
from llm_twin.infrastructure.llm.base import GenerationParams, Messages

if TYPE_CHECKING:
    from llm_twin.infrastructure.llm.ct2 import CTranslate2Backend
    from llm_twin.infrastructure.llm.local import TransformersBackend

_LABEL = re.compile(r"^\s*(request|instruction|prompt|task|question)\s*[:\-]\s*", re.IGNORECASE)


def prepare_command() -> str:
    """The one command that prepares the offline base model."""
    return "poe prepare-base-model  (or: python -m tools.prepare_base_model)"


class LocalLLMGenerator(Generator):
    """Instructions and generic answers from a local transformers model.

    Args:
        model_path: Folder of a Hugging Face causal LM with a chat template (default: the
            ``LLM_MODEL_PATH`` setting, i.e. the converted SmolLM2 base model).
        device: ``cpu``, ``cuda`` or ``auto``.
        batch_size: Prompts decoded together.
        max_new_tokens: Most tokens per generated answer (instructions get at most 64).
        temperature: Sampling temperature (0: greedy).
        top_p: Nucleus sampling mass.
        repetition_penalty: Penalty on repeated tokens.
        max_prompt_tokens: Prompts are cut (keeping their end) to this many tokens.
        seed: Seed for sampling, so a run can be repeated.
    """

    kind = "local"

    def __init__(
        self,
        model_path: Path | str | None = None,
        device: str = "cpu",
        *,
        batch_size: int = 8,
        max_new_tokens: int = 128,
        temperature: float = 0.7,
        top_p: float = 0.9,
        repetition_penalty: float = 1.1,
        max_prompt_tokens: int = 768,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if model_path is None:
            from llm_twin.settings import get_settings

            model_path = get_settings().llm_model_path
        self.model_path = Path(model_path)
        self.device = device
        self.batch_size = max(1, batch_size)
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.top_p = top_p
        self.repetition_penalty = repetition_penalty
        self.max_prompt_tokens = max_prompt_tokens
        self.seed = seed
        self._backend: CTranslate2Backend | TransformersBackend | None = None

    @property
    def name(self) -> str:
        return f"local:{self.model_path.name}"

    def _loaded(self) -> "CTranslate2Backend | TransformersBackend":
        if self._backend is None:
            if not (self.model_path / "config.json").is_file():
                raise ImproperlyConfigured(
                    f"the local LLM is not prepared: no model at {self.model_path}. Prepare the "
                    f"offline base model (SmolLM2-135M-Instruct) with: {prepare_command()}; or "
                    "set LLM_MODEL_PATH to a Hugging Face model folder"
                )
            from llm_twin.infrastructure.llm.factory import engine_backend
            from llm_twin.settings import get_settings

            engine = get_settings().llm.engine
            backend = engine_backend(self.model_path, engine=engine, device=self.device)
            backend.load()
            self._backend = backend
        return self._backend

    def generate(self, conversations: Sequence[Messages], max_new_tokens: int) -> list[str]:
        """The model's reply to each conversation (batched, left-padded)."""
        backend = self._loaded()
        params = GenerationParams(
            max_new_tokens=max_new_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            repetition_penalty=self.repetition_penalty,
        )
        started = time.perf_counter()
        completions = backend.generate_batch(
            conversations,
            params,
            batch_size=self.batch_size,
            max_prompt_tokens=self.max_prompt_tokens,
            seed=self.seed,
        )
        self.usage.requests += -(-len(conversations) // self.batch_size)
        self.usage.prompt_tokens += sum(c.prompt_tokens for c in completions)
        self.usage.completion_tokens += sum(c.completion_tokens for c in completions)
        self.usage.seconds += time.perf_counter() - started
        logger.debug("local LLM: {} replies in {:.1f} s", len(completions), self.usage.seconds)
        return [completion.text for completion in completions]

    def instructions(self, extracts: Sequence[Extract]) -> list[Generated]:
        template = prompts.INSTRUCTION_BACKTRANSLATION_PLAIN
        replies = self.generate(
            [template.messages(passage=e.text) for e in extracts], min(self.max_new_tokens, 64)
        )
        results = []
        for reply in replies:
            instruction = clean_instruction(reply)
            if instruction is None:
                self.usage.failures += 1
            results.append(Generated(instruction=instruction))
        return results

    def answers(self, instructions: Sequence[str]) -> list[str | None]:
        replies = self.generate(
            [prompts.GENERIC_ANSWER.messages(instruction=i) for i in instructions],
            self.max_new_tokens,
        )
        answers: list[str | None] = []
        for reply in replies:
            text = reply.strip()
            if not text:
                self.usage.failures += 1
            answers.append(text or None)
        return answers

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None


def clean_instruction(reply: str, min_chars: int = 12, max_chars: int = 400) -> str | None:
    """The first non-empty line of ``reply`` without labels and quotes; ``None`` if it is too
    short or too long to be an instruction."""
    for line in reply.splitlines():
        line = _LABEL.sub("", line).strip().strip("\"'*` ").strip()
        if line:
            return line if min_chars <= len(line) <= max_chars else None
    return None
