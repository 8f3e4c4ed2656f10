"""Generator on the offline local LLM (SmolLM2 by default) through the issue-7 backend.

The :class:`~llm_twin.infrastructure.llm.local.TransformersBackend` loads the model and its
tokenizer; this generator then decodes prompts in padded batches (one ``generate`` call for
``batch_size`` prompts), which on CPU yields several times the tokens per second of the
backend's one-answer-at-a-time streaming. Small models do not follow JSON formats reliably, so
prompts ask for plain text, which is cleaned (first line, quotes and labels removed) and
validated; an empty or unusable reply counts as a failure.
"""

import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loguru import logger

from llm_twin.application.dataset import prompts
from llm_twin.application.dataset.generation import Generated, Generator
from llm_twin.application.dataset.samples import Extract
from llm_twin.domain.exceptions import ImproperlyConfigured

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
        self._backend: Any = None

    @property
    def name(self) -> str:
        return f"local:{self.model_path.name}"

    def _loaded(self) -> Any:
        if self._backend is None:
            if not (self.model_path / "config.json").is_file():
                raise ImproperlyConfigured(
                    f"the local LLM is not prepared: no model at {self.model_path}. Prepare the "
                    f"offline base model (SmolLM2-135M-Instruct) with: {prepare_command()}; or "
                    "set LLM_MODEL_PATH to a Hugging Face model folder"
                )
            from llm_twin.infrastructure.llm.local import TransformersBackend

            backend = TransformersBackend(self.model_path, self.device)
            backend.load()
            self._backend = backend
        return self._backend

    def generate(
        self, conversations: Sequence[list[dict[str, str]]], max_new_tokens: int
    ) -> list[str]:
        """The model's reply to each conversation (batched, left-padded)."""
        import torch

        backend = self._loaded()
        tokenizer, model = backend.tokenizer, backend.model
        tokenizer.padding_side = "left"
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        started = time.perf_counter()
        replies: list[str] = []
        torch.manual_seed(self.seed)
        for start in range(0, len(conversations), self.batch_size):
            batch = conversations[start : start + self.batch_size]
            texts = [
                tokenizer.apply_chat_template(m, tokenize=False, add_generation_prompt=True)
                for m in batch
            ]
            tokenizer.truncation_side = "left"  # keep the end: the request and the turn marker
            inputs = tokenizer(
                texts,
                return_tensors="pt",
                padding=True,
                truncation=True,
                max_length=self.max_prompt_tokens,
                add_special_tokens=False,
            ).to(model.device)
            sampling: dict[str, Any] = {"do_sample": False}
            if self.temperature > 0:
                sampling = {"do_sample": True, "temperature": self.temperature, "top_p": self.top_p}
            with torch.inference_mode():
                output = model.generate(
                    **inputs,
                    max_new_tokens=max_new_tokens,
                    repetition_penalty=self.repetition_penalty,
                    pad_token_id=tokenizer.pad_token_id,
                    **sampling,
                )
            new_tokens = output[:, inputs["input_ids"].shape[1] :]
            self.usage.requests += 1
            self.usage.prompt_tokens += int(inputs["attention_mask"].sum())
            self.usage.completion_tokens += int((new_tokens != tokenizer.pad_token_id).sum())
            replies.extend(tokenizer.batch_decode(new_tokens, skip_special_tokens=True))
        self.usage.seconds += time.perf_counter() - started
        logger.debug("local LLM: {} replies in {:.1f} s", len(replies), self.usage.seconds)
        return replies

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
