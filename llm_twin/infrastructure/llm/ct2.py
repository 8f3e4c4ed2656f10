"""The CPU engine: the twin from its CTranslate2 int8 export, streamed token by token.

Prompts are rendered with the model's own chat template (:func:`render_prompt`, the same as the
transformers backend) and cut the same way; sampling maps onto CTranslate2's: greedy at
temperature 0, else temperature + nucleus sampling, with the same repetition penalty, end tokens
and suppressed tokens (from the copied ``generation_config.json``). Two differences remain:
CTranslate2's repetition penalty counts only generated tokens (transformers' also counts the
prompt's), and int8 rounding changes near-tied tokens, so greedy answers match transformers'
exactly only for a float32 export at ``repetition_penalty=1`` (measured: 3/3 SmolLM2 prompts;
int8 keeps the first words, then diverges). On this 2-core machine int8
measured TTFT 0.91 s and 33 tok/s against 1.35 s and ~16 tok/s for transformers fp32 (724-token
RAG prompt, SmolLM2-135M).

CTranslate2 decodes in its own threads: :meth:`CTranslate2Backend.stream` hands the step
results over as text deltas; closing the stream makes the per-token callback stop the decoding
at the next token even when nobody iterates any more. At most ``max_concurrent`` generations run
at once (a semaphore; CTranslate2 gets as many workers), the others wait up to ``timeout``.
"""

import contextlib
import json
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
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
from llm_twin.infrastructure.llm.exports import EXPORT_MARKER, export_info

if TYPE_CHECKING:
    import ctranslate2
    from transformers import PreTrainedTokenizerBase


class CTranslate2Backend(LLMBackend):
    """A CTranslate2 export of the twin, run in this process on the CPU.

    Args:
        export_dir: The export folder (see :mod:`llm_twin.infrastructure.llm.exports`); it holds
            the tokenizer and its chat template too.
        timeout: Seconds to wait for a generation slot and for the first token.
        model_id: Id reported for the model (default: the folder's name).
        threads: CPU threads per generation (0: CTranslate2's default, one per core).
        max_concurrent: Generations running at once; more requests wait for a slot.
        compute_type: CTranslate2 compute type (``int8`` for an int8 export; ``default`` keeps
            the export's own type).

    Attributes:
        generator: The loaded ``ctranslate2.Generator``, None until :meth:`load`.
        tokenizer: Its tokenizer, None until :meth:`load`.
    """

    name = "local"
    engine = "ct2"

    def __init__(
        self,
        export_dir: Path | str,
        timeout: float = 60.0,
        model_id: str | None = None,
        threads: int = 0,
        *,
        max_concurrent: int = 1,
        compute_type: str = "default",
    ) -> None:
        self.export_dir = Path(export_dir)
        self.timeout = timeout
        self.model_id = model_id or self.export_dir.name
        self.threads = threads
        self.max_concurrent = max(1, max_concurrent)
        self.compute_type = compute_type
        self.generator: ctranslate2.Generator | None = None
        self.tokenizer: PreTrainedTokenizerBase | None = None
        self._slots = threading.BoundedSemaphore(self.max_concurrent)
        self._context_length = 0
        self._end_ids: list[int] = []
        self._suppressed: list[list[str]] = []

    def load(self) -> None:
        """Load the tokenizer and the generator.

        Raises:
            LLMUnavailable: no finished export, no chat template, or CTranslate2 is missing.
        """
        if self.generator is not None:
            return
        info = export_info(self.export_dir)
        if not info:
            raise LLMUnavailable(
                f"no CTranslate2 export at {self.export_dir} ({EXPORT_MARKER} missing): run "
                "`poe export-model --format ct2` or set LLM_ENGINE=transformers"
            )
        try:
            import ctranslate2
        except ImportError:
            raise LLMUnavailable(
                "LLM_ENGINE=ct2 needs the ctranslate2 package: pip install ctranslate2"
            ) from None
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(self.export_dir)
        if not getattr(tokenizer, "chat_template", None):
            raise LLMUnavailable(f"the tokenizer at {self.export_dir} has no chat template")
        self.generator = ctranslate2.Generator(
            str(self.export_dir),
            device="cpu",
            compute_type=self.compute_type,
            inter_threads=self.max_concurrent,
            intra_threads=self.threads,
        )
        self.tokenizer = tokenizer
        self._context_length = int(info.get("context_length", 0))
        self._end_ids, suppressed = _generation_tokens(self.export_dir, tokenizer)
        self._suppressed = [[token] for token in tokenizer.convert_ids_to_tokens(suppressed)]
        self._end_ids = [token for token in self._end_ids if token not in suppressed] or [
            token for token in [tokenizer.eos_token_id] if token is not None
        ]
        logger.info(
            "local LLM {} loaded with CTranslate2 ({}, {} threads, {} concurrent)",
            self.model_id,
            info.get("quantization"),
            self.threads or "default",
            self.max_concurrent,
        )

    def check(self) -> None:
        if self.generator is None:
            raise LLMUnavailable(f"local model {self.model_id} is not loaded")

    def _loaded(self) -> "tuple[ctranslate2.Generator, PreTrainedTokenizerBase]":
        self.check()
        assert self.generator is not None and self.tokenizer is not None
        return self.generator, self.tokenizer

    def warm_up(self) -> None:
        self.complete(
            [{"role": "user", "content": "Hello"}],
            GenerationParams(max_new_tokens=2, temperature=0.0),
        )

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` for this model."""
        _, tokenizer = self._loaded()
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    def _prompt_tokens(self, messages: Messages, limit: int) -> list[str]:
        """The rendered prompt as token strings, cut to its last ``limit`` tokens (the question
        and the generation prompt matter most; 0: no limit)."""
        _, tokenizer = self._loaded()
        ids = tokenizer(render_prompt(tokenizer, messages), add_special_tokens=False)["input_ids"]
        if limit > 0 and len(ids) > limit:
            ids = ids[-limit:]
        return tokenizer.convert_ids_to_tokens(ids)

    def _limit(self, params: GenerationParams, max_prompt_tokens: int | None = None) -> int:
        limit = self._context_length - params.max_new_tokens if self._context_length else 0
        if max_prompt_tokens is not None and (limit <= 0 or max_prompt_tokens < limit):
            return max_prompt_tokens
        return limit

    def _options(self, params: GenerationParams) -> dict[str, object]:
        """CTranslate2's decoding options for ``params`` (greedy at temperature 0)."""
        options: dict[str, object] = {
            "max_length": params.max_new_tokens,
            "repetition_penalty": params.repetition_penalty,
            "end_token": self._end_ids,
        }
        if self._suppressed:
            options["suppress_sequences"] = self._suppressed
        if params.temperature > 0:
            options |= {
                # transformers' top-k 50 too: sampling over the whole 49k vocabulary sorted
                # it at every step (measured 35.6 -> 43.3 tok/s on SmolLM2-135M int8).
                "sampling_topk": params.top_k,
                "sampling_topp": params.top_p,
                "sampling_temperature": params.temperature,
            }
        else:
            options["sampling_topk"] = 1
        return options

    def stream(self, messages: Messages, params: GenerationParams) -> TokenStream:
        generator, tokenizer = self._loaded()
        prompt = self._prompt_tokens(messages, self._limit(params))
        stop = threading.Event()
        stream = TokenStream(
            iter(()), model=self.model_id, backend=self.name, prompt_tokens=len(prompt)
        )

        def deltas() -> Iterator[str]:
            if not self._slots.acquire(timeout=self.timeout):
                raise LLMTimeout(
                    f"local model {self.model_id}: no generation slot free for "
                    f"{self.timeout:.0f} s ({self.max_concurrent} running)"
                )
            steps = None
            try:
                steps = generator.generate_tokens(
                    prompt, callback=lambda _step: stop.is_set(), **self._options(params)
                )
                decoder = _IncrementalDecoder(tokenizer)
                for step in steps:
                    stream.completion_tokens += 1
                    text = decoder.add(step.token_id)
                    if text:
                        yield text
                    if stop.is_set():
                        break
                tail = decoder.flush()
                if tail:
                    yield tail
            except RuntimeError as error:
                raise LLMError(f"local model {self.model_id} failed: {error}") from error
            finally:
                if steps is not None:
                    steps.close()
                self._slots.release()
            stream.finish_reason = (
                "length" if stream.completion_tokens >= params.max_new_tokens else "stop"
            )

        iterator = deltas()

        def close() -> None:
            stop.set()
            # A generator parked at ``yield`` releases its slot now, not at garbage collection;
            # one running in the consumer's thread (ValueError) sees ``stop`` itself.
            with contextlib.suppress(ValueError):
                iterator.close()

        stream._deltas = iterator
        stream._on_close = close
        return stream

    def generate_batch(
        self,
        conversations: Sequence[Messages],
        params: GenerationParams,
        *,
        batch_size: int = 8,
        max_prompt_tokens: int | None = None,
        seed: int | None = None,
    ) -> list[Completion]:
        """The answer to each conversation, decoded ``batch_size`` at a time by CTranslate2.

        Args:
            conversations: The conversations (system prompt first).
            params: Sampling (temperature 0: greedy) and ``max_new_tokens``.
            batch_size: Conversations decoded together.
            max_prompt_tokens: Prompts are cut (keeping their end) to this many tokens, and
                always to the context left for ``max_new_tokens``.
            seed: Seeds CTranslate2's sampling once before decoding (repeatable sampling).

        Returns:
            One completion per conversation, in order (text not stripped).
        """
        import ctranslate2

        generator, tokenizer = self._loaded()
        if seed is not None:
            ctranslate2.set_random_seed(seed)
        limit = self._limit(params, max_prompt_tokens)
        prompts = [self._prompt_tokens(messages, limit) for messages in conversations]
        with self._slots:
            results = generator.generate_batch(
                prompts,
                max_batch_size=max(1, batch_size),
                include_prompt_in_result=False,
                **self._options(params),
            )
        completions = []
        for prompt, result in zip(prompts, results, strict=True):
            ids = [token for token in result.sequences_ids[0] if token not in self._end_ids]
            completions.append(
                Completion(
                    text=tokenizer.decode(ids, skip_special_tokens=True),
                    prompt_tokens=len(prompt),
                    completion_tokens=len(result.sequences_ids[0]),
                    model=self.model_id,
                    backend=self.name,
                    finish_reason="length" if len(ids) >= params.max_new_tokens else "stop",
                )
            )
        return completions

    def close(self) -> None:
        """Drop the generator and free its memory."""
        self.generator = None
        self.tokenizer = None


class _IncrementalDecoder:
    """Token ids in, new text out: decodes the whole answer so far and returns what was added,
    holding back an incomplete multi-byte character (decoded as U+FFFD) until it completes."""

    def __init__(self, tokenizer: "PreTrainedTokenizerBase") -> None:
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.sent = 0

    def add(self, token_id: int) -> str:
        self.ids.append(token_id)
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        if text.endswith("\ufffd"):
            return ""
        return self._new(text)

    def flush(self) -> str:
        return self._new(self.tokenizer.decode(self.ids, skip_special_tokens=True))

    def _new(self, text: str) -> str:
        delta, self.sent = text[self.sent :], max(self.sent, len(text))
        return delta


def _generation_tokens(
    folder: Path, tokenizer: "PreTrainedTokenizerBase"
) -> tuple[list[int], list[int]]:
    """The end-of-sequence ids and the suppressed ids of the model's generation config (what
    transformers' ``generate`` applies), falling back to the tokenizer's end token."""
    config_file = folder / "generation_config.json"
    config = json.loads(config_file.read_text()) if config_file.is_file() else {}
    end = config.get("eos_token_id", tokenizer.eos_token_id)
    end_ids = [end] if isinstance(end, int) else list(end or [])
    suppressed = [int(token) for token in config.get("suppress_tokens") or []]
    return [int(token) for token in end_ids], suppressed
