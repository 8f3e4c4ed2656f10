"""The in-process backend: a transformers causal LM from a local folder, streamed token by token
(the service) or decoded in padded batches (the twin evaluation, the dataset writers).

Streaming generation runs in its own worker thread and feeds a ``TextIteratorStreamer``; the
caller iterates the deltas (the API does that in a thread pool, never on the event loop). One
model instance generates one answer (or one batch) at a time (a lock): parallel ``generate``
calls on one CPU model only slow each other down.
"""

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from queue import Empty
from typing import TYPE_CHECKING

from loguru import logger

from llm_twin.domain.prompts import render_prompt
from llm_twin.infrastructure.llm.base import (
    Completion,
    GenerationParams,
    LLMBackend,
    Messages,
    TokenStream,
)
from llm_twin.infrastructure.llm.errors import LLMError, LLMTimeout, LLMUnavailable

if TYPE_CHECKING:
    import torch
    from transformers import PretrainedConfig, PreTrainedModel, PreTrainedTokenizerBase


class TransformersBackend(LLMBackend):
    """A Hugging Face causal LM loaded in this process.

    Args:
        model_path: Folder with the model and its tokenizer (the tokenizer needs a chat template).
        device: ``cpu``, ``cuda`` or ``auto`` (cuda when available).
        timeout: Seconds to wait for the first token and between two tokens.
        model_id: Id reported for the model (default: the folder's name).
        threads: Torch CPU threads (0: leave torch's setting). Torch's setting is
            process-wide: this sets it for the whole process at :meth:`load`.
        tokenizer_path: Where the tokenizer (and its chat template) comes from (default:
            ``model_path``).
        adapter: A LoRA adapter folder merged into the weights in memory at :meth:`load`, or an
            ordered stack of them (each merged into the result of the previous).
        allow_hub_id: Accept a Hugging Face Hub id (``org/name``) for ``model_path``, fetched
            by transformers (a base model recorded by id); otherwise the folder must exist.

    Attributes:
        model: The loaded causal LM (eval mode), None until :meth:`load`.
        tokenizer: Its tokenizer, None until :meth:`load`.
        device: Where the model runs once loaded (``auto`` resolved).
    """

    name = "local"
    engine = "transformers"

    def __init__(
        self,
        model_path: Path | str,
        device: str = "cpu",
        timeout: float = 60.0,
        model_id: str | None = None,
        threads: int = 0,
        *,
        tokenizer_path: Path | str | None = None,
        adapter: Path | str | Sequence[Path | str] | None = None,
        allow_hub_id: bool = False,
    ) -> None:
        self.allow_hub_id = allow_hub_id
        self.threads = threads
        self.model_path = Path(model_path)
        self.tokenizer_path = Path(tokenizer_path) if tokenizer_path else self.model_path
        stack = [adapter] if isinstance(adapter, Path | str) else list(adapter or ())
        self.adapters = tuple(Path(folder) for folder in stack if folder)
        self.device = device
        self.timeout = timeout
        self.model_id = model_id or self.model_path.name
        self.model: PreTrainedModel | None = None
        self.tokenizer: PreTrainedTokenizerBase | None = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load the tokenizer and the model (its adapter merged) on :attr:`device`.

        Raises:
            LLMUnavailable: no model folder, or a tokenizer without a chat template.
        """
        if self.model is not None:
            return
        hub_id = self.allow_hub_id and _is_hub_id(self.model_path)
        if not hub_id and not (self.model_path / "config.json").is_file():
            raise LLMUnavailable(
                f"no local model at {self.model_path}: run `poe prepare-base-model` or set "
                "LLM_MODEL_PATH"
            )
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if self.threads > 0:
            torch.set_num_threads(self.threads)
        device = self.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = torch.bfloat16 if device == "cuda" else torch.float32
        tokenizer = AutoTokenizer.from_pretrained(self.tokenizer_path)
        if not getattr(tokenizer, "chat_template", None):
            raise LLMUnavailable(f"the tokenizer at {self.tokenizer_path} has no chat template")
        model = AutoModelForCausalLM.from_pretrained(self.model_path, dtype=dtype)
        if self.adapters:
            from peft import PeftModel

            for adapter in self.adapters:
                model = PeftModel.from_pretrained(model, adapter).merge_and_unload()
        model.to(device).eval()
        self.tokenizer, self.model, self.device = tokenizer, model, device
        logger.info("local LLM {} loaded on {}", self.model_id, device)

    def _loaded(self) -> "tuple[PreTrainedModel, PreTrainedTokenizerBase]":
        self.check()
        assert self.model is not None and self.tokenizer is not None
        return self.model, self.tokenizer

    def warm_up(self) -> None:
        self.complete(
            [{"role": "user", "content": "Hello"}],
            GenerationParams(max_new_tokens=2, temperature=0.0),
        )

    def check(self) -> None:
        if self.model is None:
            raise LLMUnavailable(f"local model {self.model_id} is not loaded")

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` for this model."""
        _, tokenizer = self._loaded()
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    def pad_left(self) -> "tuple[PreTrainedModel, PreTrainedTokenizerBase]":
        """Set the tokenizer up for batches: left padding (generation continues every row at
        the right end), the end-of-sequence token as pad token when it has none."""
        model, tokenizer = self._loaded()
        tokenizer.padding_side = "left"
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        return model, tokenizer

    def _prompt_limit(self, params: GenerationParams, max_prompt_tokens: int | None) -> int:
        """Most prompt tokens: the context left for ``max_new_tokens`` (0: unknown), capped at
        ``max_prompt_tokens``."""
        model, _ = self._loaded()
        limit = _context_length(model.config) - params.max_new_tokens
        if max_prompt_tokens is not None and (limit <= 0 or max_prompt_tokens < limit):
            return max_prompt_tokens
        return limit

    def _encode(self, conversations: Sequence[Messages], limit: int) -> "dict[str, torch.Tensor]":
        """The rendered prompts as left-padded tensors on the model's device, each cut to its
        last ``limit`` tokens (the question and the generation prompt matter most)."""
        _, tokenizer = self._loaded()
        prompts = [render_prompt(tokenizer, messages) for messages in conversations]
        inputs = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        if limit > 0 and inputs["input_ids"].shape[1] > limit:
            inputs = {name: value[:, -limit:] for name, value in inputs.items()}
        return {name: value.to(self.device) for name, value in inputs.items()}

    def generate_batch(
        self,
        conversations: Sequence[Messages],
        params: GenerationParams,
        *,
        batch_size: int = 8,
        max_prompt_tokens: int | None = None,
        seed: int | None = None,
    ) -> list[Completion]:
        """The answer to each conversation, decoded ``batch_size`` at a time in left-padded
        batches (several times the tokens per second of one-at-a-time streaming on CPU).

        Args:
            conversations: The conversations (system prompt first).
            params: Sampling (temperature 0: greedy) and ``max_new_tokens``.
            batch_size: Conversations per ``generate`` call.
            max_prompt_tokens: Prompts are cut (keeping their end) to this many tokens, and
                always to the context left for ``max_new_tokens``.
            seed: Seeds torch's generator once before the first batch (repeatable sampling).

        Returns:
            One completion per conversation, in order (text not stripped; prompt tokens
            without padding; completion tokens without padding).
        """
        import torch

        model, tokenizer = self.pad_left()
        limit = self._prompt_limit(params, max_prompt_tokens)
        if seed is not None:
            torch.manual_seed(seed)
        completions: list[Completion] = []
        for start in range(0, len(conversations), max(1, batch_size)):
            inputs = self._encode(conversations[start : start + max(1, batch_size)], limit)
            with self._lock, torch.inference_mode():
                output = model.generate(  # type: ignore[operator]
                    **inputs,
                    max_new_tokens=params.max_new_tokens,
                    repetition_penalty=params.repetition_penalty,
                    pad_token_id=tokenizer.pad_token_id,
                    **_sampling(params),
                )
            new_tokens = output[:, inputs["input_ids"].shape[1] :]
            texts = tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
            for row, text in enumerate(texts):
                generated = int((new_tokens[row] != tokenizer.pad_token_id).sum())
                completions.append(
                    Completion(
                        text=text,
                        prompt_tokens=int(inputs["attention_mask"][row].sum()),
                        completion_tokens=generated,
                        model=self.model_id,
                        backend=self.name,
                        finish_reason="length" if generated >= params.max_new_tokens else "stop",
                    )
                )
        return completions

    def stream(self, messages: Messages, params: GenerationParams) -> TokenStream:
        model, tokenizer = self._loaded()
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        prompt = render_prompt(tokenizer, messages)
        inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
        limit = _context_length(model.config) - params.max_new_tokens
        if limit > 0 and inputs["input_ids"].shape[1] > limit:
            # Keep the end: the question and the generation prompt matter most.
            inputs = {name: value[:, -limit:] for name, value in inputs.items()}
        inputs = {name: value.to(self.device) for name, value in inputs.items()}
        prompt_tokens = int(inputs["input_ids"].shape[1])
        streamer = TextIteratorStreamer(
            tokenizer,  # type: ignore[arg-type]
            skip_prompt=True,
            skip_special_tokens=True,
            timeout=self.timeout,
        )
        stop = threading.Event()

        class _Stop(StoppingCriteria):
            def __call__(
                self, input_ids: "torch.LongTensor", scores: "torch.FloatTensor", **kwargs: object
            ) -> bool:
                return stop.is_set()

        outcome: dict[str, int | Exception] = {}

        def generate() -> None:
            try:
                with self._lock, torch.inference_mode():
                    output = model.generate(  # type: ignore[operator]
                        **inputs,
                        streamer=streamer,
                        max_new_tokens=params.max_new_tokens,
                        repetition_penalty=params.repetition_penalty,
                        stopping_criteria=StoppingCriteriaList([_Stop()]),
                        pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
                        **_sampling(params),
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
            error = outcome.get("error")
            if isinstance(error, Exception):
                raise LLMError(
                    f"local model {self.model_id} failed: {type(error).__name__}: {error}"
                ) from error
            tokens = outcome.get("tokens", 0)
            stream.completion_tokens = tokens if isinstance(tokens, int) else 0
            stream.finish_reason = (
                "length" if stream.completion_tokens >= params.max_new_tokens else "stop"
            )

        stream._deltas = deltas()
        worker.start()
        return stream

    def close(self) -> None:
        """Drop the model and free its memory (the evaluation loads several in turn)."""
        if self.model is None:
            return
        import gc

        self.model = None
        self.tokenizer = None
        gc.collect()
        if self.device == "cuda":
            import torch

            torch.cuda.empty_cache()


def _sampling(params: GenerationParams) -> dict[str, bool | float]:
    """``generate``'s sampling arguments: greedy at temperature 0, top-k then nucleus sampling
    otherwise."""
    if params.temperature > 0:
        return {
            "do_sample": True,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "top_k": params.top_k,
        }
    return {"do_sample": False}


def _is_hub_id(path: Path) -> bool:
    """True for a Hugging Face Hub id (``org/name``, not a folder here): transformers fetches
    it, so there is no local folder to check."""
    return not path.is_absolute() and len(path.parts) == 2 and not path.exists()


def _context_length(config: "PretrainedConfig") -> int:
    return int(getattr(config, "max_position_embeddings", 0) or 0)
