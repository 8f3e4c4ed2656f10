"""The in-process backend: a transformers causal LM from a local folder, streamed token by token.

Generation runs in its own worker thread and feeds a ``TextIteratorStreamer``; the caller
iterates the deltas (the API does that in a thread pool, never on the event loop). One model
instance generates one answer at a time (a lock): parallel ``generate`` calls on one CPU model
only slow each other down.
"""

import threading
from collections.abc import Iterator
from pathlib import Path
from queue import Empty
from typing import Any

from loguru import logger

from llm_twin.infrastructure.llm.base import (
    GenerationParams,
    LLMBackend,
    LLMError,
    LLMTimeout,
    LLMUnavailable,
    Messages,
    TokenStream,
)
from llm_twin.model.prompts import render_prompt


class TransformersBackend(LLMBackend):
    """A Hugging Face causal LM loaded in this process.

    Args:
        model_path: Folder with the model and its tokenizer (the tokenizer needs a chat template).
        device: ``cpu``, ``cuda`` or ``auto`` (cuda when available).
        timeout: Seconds to wait for the first token and between two tokens.
        model_id: Id reported for the model (default: the folder's name).
    """

    name = "local"

    def __init__(
        self,
        model_path: Path | str,
        device: str = "cpu",
        timeout: float = 60.0,
        model_id: str | None = None,
    ) -> None:
        self.model_path = Path(model_path)
        self.device = device
        self.timeout = timeout
        self.model_id = model_id or self.model_path.name
        self.model: Any = None
        self.tokenizer: Any = None
        self._lock = threading.Lock()

    def load(self) -> None:
        if self.model is not None:
            return
        if not (self.model_path / "config.json").is_file():
            raise LLMUnavailable(
                f"no local model at {self.model_path}: run `poe prepare-base-model` or set "
                "LLM_MODEL_PATH"
            )
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        device = self.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = torch.bfloat16 if device == "cuda" else torch.float32
        tokenizer = AutoTokenizer.from_pretrained(self.model_path)
        if not getattr(tokenizer, "chat_template", None):
            raise LLMUnavailable(f"the tokenizer at {self.model_path} has no chat template")
        model = AutoModelForCausalLM.from_pretrained(self.model_path, dtype=dtype)
        model.to(device).eval()
        self.tokenizer, self.model, self._device = tokenizer, model, device
        logger.info("local LLM {} loaded on {}", self.model_id, device)

    def check(self) -> None:
        if self.model is None:
            raise LLMUnavailable(f"local model {self.model_id} is not loaded")

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` for this model."""
        self.check()
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def stream(self, messages: Messages, params: GenerationParams) -> TokenStream:
        self.check()
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        prompt = render_prompt(self.tokenizer, messages)
        inputs = self.tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
        limit = _context_length(self.model.config) - params.max_new_tokens
        if limit > 0 and inputs["input_ids"].shape[1] > limit:
            # Keep the end: the question and the generation prompt matter most.
            inputs = {name: value[:, -limit:] for name, value in inputs.items()}
        inputs = {name: value.to(self._device) for name, value in inputs.items()}
        prompt_tokens = int(inputs["input_ids"].shape[1])
        streamer = TextIteratorStreamer(
            self.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=self.timeout
        )
        stop = threading.Event()

        class _Stop(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> bool:
                return stop.is_set()

        sampling: dict[str, Any] = {"do_sample": False}
        if params.temperature > 0:
            sampling = {"do_sample": True, "temperature": params.temperature, "top_p": params.top_p}
        outcome: dict[str, Any] = {}

        def generate() -> None:
            try:
                with self._lock, torch.inference_mode():
                    output = self.model.generate(
                        **inputs,
                        streamer=streamer,
                        max_new_tokens=params.max_new_tokens,
                        repetition_penalty=params.repetition_penalty,
                        stopping_criteria=StoppingCriteriaList([_Stop()]),
                        pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
                        **sampling,
                    )
                outcome["tokens"] = int(output.shape[1]) - prompt_tokens
            except Exception as error:  # handed to the consumer, which raises it
                outcome["error"] = error
                streamer.end()

        worker = threading.Thread(target=generate, name="llm-generate", daemon=True)
        stream = TokenStream(
            iter(()),
            model=self.model_id,
            backend=self.name,
            prompt_tokens=prompt_tokens,
            on_close=stop.set,
        )

        def deltas() -> Iterator[str]:
            try:
                for text in streamer:
                    if text:
                        yield text
            except Empty:
                stop.set()
                raise LLMTimeout(
                    f"local model {self.model_id} produced no token for {self.timeout:.0f} s"
                ) from None
            worker.join()
            if "error" in outcome:
                error = outcome["error"]
                raise LLMError(
                    f"local model {self.model_id} failed: {type(error).__name__}: {error}"
                ) from error
            stream.completion_tokens = outcome.get("tokens", 0)
            stream.finish_reason = (
                "length" if stream.completion_tokens >= params.max_new_tokens else "stop"
            )

        stream._deltas = deltas()
        worker.start()
        return stream

    def close(self) -> None:
        self.model = None
        self.tokenizer = None


def _context_length(config: Any) -> int:
    return int(getattr(config, "max_position_embeddings", 0) or 0)
