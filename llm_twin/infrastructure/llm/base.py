"""The LLM backend interface: chat messages in, streamed text deltas and token counts out."""

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from llm_twin.infrastructure.llm.errors import LLMError as LLMError  # re-exported
from llm_twin.infrastructure.llm.errors import LLMTimeout as LLMTimeout
from llm_twin.infrastructure.llm.errors import LLMUnavailable as LLMUnavailable
from llm_twin.settings import Settings

Messages = Sequence[Mapping[str, str]]


@dataclass(frozen=True)
class GenerationParams:
    """How to sample an answer.

    Attributes:
        max_new_tokens: Most tokens to generate.
        temperature: Sampling temperature; 0 means greedy decoding.
        top_p: Nucleus sampling mass.
        top_k: Sample among the ``top_k`` most likely tokens before the nucleus cut (0: no
            limit; the local engines only: OpenAI's API has no such parameter).
        repetition_penalty: Penalty on repeated tokens (1: none; local backend only).
        json_mode: Ask for a JSON object (``response_format={"type": "json_object"}``) where
            the backend supports it (:attr:`LLMBackend.supports_json_mode`); ignored elsewhere.
    """

    max_new_tokens: int = 256
    temperature: float = 0.3
    top_p: float = 0.9
    top_k: int = 50
    repetition_penalty: float = 1.1
    json_mode: bool = False

    @classmethod
    def from_settings(
        cls, settings: Settings, **overrides: float | bool | None
    ) -> "GenerationParams":
        """The ``LLM_*`` generation settings, with ``overrides`` (``None`` values ignored)."""
        values = {
            "max_new_tokens": settings.llm.max_new_tokens,
            "temperature": settings.llm.temperature,
            "top_p": settings.llm.top_p,
            "top_k": settings.llm.top_k,
            "repetition_penalty": settings.llm.repetition_penalty,
        }
        values |= {name: value for name, value in overrides.items() if value is not None}
        return cls(**values)


@dataclass
class Completion:
    """A finished answer.

    Attributes:
        text: The answer.
        prompt_tokens: Tokens in the prompt (as the backend counted them).
        completion_tokens: Tokens generated.
        model: Id of the model that answered.
        backend: Name of the backend that answered.
        finish_reason: ``stop`` (the model ended) or ``length`` (hit ``max_new_tokens``).
        attempts: Backends tried before this one, each ``{"backend", "error"}``.
    """

    text: str
    prompt_tokens: int
    completion_tokens: int
    model: str
    backend: str
    finish_reason: str = "stop"
    attempts: list[dict[str, str]] = field(default_factory=list)


class TokenStream:
    """Text deltas of one answer; token counts are filled in once the stream is exhausted.

    Iterate it to get the deltas (``str``); call :meth:`close` to stop generation early.

    Args:
        deltas: The underlying iterator of text deltas.
        model: Id of the model answering.
        backend: Name of the backend answering.
        prompt_tokens: Prompt tokens, if known up front.
        on_close: Called by :meth:`close` (stops a generation thread, closes an HTTP response).
    """

    def __init__(
        self,
        deltas: Iterator[str],
        *,
        model: str,
        backend: str,
        prompt_tokens: int = 0,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self._deltas = deltas
        self.model = model
        self.backend = backend
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = 0
        self.finish_reason = "stop"
        self.attempts: list[dict[str, str]] = []
        self._on_close = on_close
        self._first: list[str] = []

    def prime(self) -> None:
        """Wait for the first delta now (so a backend failing to start raises here, where a
        fallback can still switch backend); it is yielded again by the iteration."""
        for delta in self._deltas:
            self._first.append(delta)
            return

    def __iter__(self) -> Iterator[str]:
        yield from self._first
        self._first = []
        yield from self._deltas

    def close(self) -> None:
        """Stop the generation (idempotent)."""
        if self._on_close is not None:
            callback, self._on_close = self._on_close, None
            callback()

    def add_close_callback(self, callback: Callable[[], None]) -> None:
        """Also call ``callback`` when the stream is closed, after what closing already does
        (e.g. release the model that generates it)."""
        previous = self._on_close

        def both() -> None:
            try:
                if previous is not None:
                    previous()
            finally:
                callback()

        self._on_close = both


class LLMBackend(ABC):
    """One way of running the twin's LLM.

    Attributes:
        name: Backend kind (``local``, ``openai``, ``sagemaker``).
        model_id: Id of the model it serves (reported in responses and traces).
        supports_json_mode: Whether :attr:`GenerationParams.json_mode` constrains its output.
    """

    name: str = "llm"
    model_id: str = ""
    supports_json_mode: bool = False

    def load(self) -> None:  # noqa: B027 - remote backends have nothing to load
        """Load what the backend needs (model weights, clients); called once at startup.

        Raises:
            LLMUnavailable: it cannot be loaded.
        """

    @abstractmethod
    def check(self) -> None:
        """Raise :class:`LLMUnavailable` unless the backend can answer now (readiness)."""

    @abstractmethod
    def stream(self, messages: Messages, params: GenerationParams) -> TokenStream:
        """Start answering ``messages`` (the rendered conversation, system prompt first).

        Raises:
            LLMUnavailable, LLMTimeout, LLMError: when starting fails; iterating the stream may
                raise them too.
        """

    def complete(self, messages: Messages, params: GenerationParams) -> Completion:
        """The whole answer to ``messages`` (the stream, joined)."""
        stream = self.stream(messages, params)
        try:
            text = "".join(stream)
        finally:
            stream.close()
        return Completion(
            text=text,
            prompt_tokens=stream.prompt_tokens,
            completion_tokens=stream.completion_tokens,
            model=stream.model,
            backend=stream.backend,
            finish_reason=stream.finish_reason,
            attempts=stream.attempts,
        )

    def generate_batch(
        self, conversations: Sequence[Messages], params: GenerationParams
    ) -> list[Completion]:
        """The whole answer to each conversation, in order (one :meth:`complete` each here;
        the local backend decodes them in padded batches)."""
        return [self.complete(messages, params) for messages in conversations]

    def warm_up(self) -> None:  # noqa: B027 - remote backends are warm already
        """Run one tiny generation so the first request does not pay one-off costs."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what :meth:`load` acquired."""
