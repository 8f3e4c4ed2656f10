"""An ordered list of backends used as one: the first that starts answering wins; a backend that
is down or times out before its first token hands over to the next (recorded in
``TokenStream.attempts``)."""

from collections.abc import Sequence

from loguru import logger

from llm_twin.infrastructure.llm.base import GenerationParams, LLMBackend, Messages, TokenStream
from llm_twin.infrastructure.llm.errors import LLMError, LLMTimeout, LLMUnavailable


class FallbackLLM(LLMBackend):
    """Backends tried in order.

    Args:
        backends: The backends, preferred first (at least one).
    """

    name = "fallback"

    def __init__(self, backends: Sequence[LLMBackend]) -> None:
        if not backends:
            raise ValueError("FallbackLLM needs at least one backend")
        self.backends = list(backends)
        self.load_errors: dict[str, str] = {}

    @property
    def model_id(self) -> str:  # type: ignore[override]
        return self.backends[0].model_id

    def load(self) -> None:
        """Load every backend; one that fails to load is kept (and reported by :meth:`check`)
        so that the others still serve."""
        for backend in self.backends:
            try:
                backend.load()
            except LLMError as error:
                self.load_errors[backend.name] = str(error)
                logger.warning("LLM backend {} unavailable: {}", backend.name, error)

    def warm_up(self) -> None:
        """Warm up every loaded backend (one failing is logged; it fails again on use)."""
        for backend in self.backends:
            if backend.name in self.load_errors:
                continue
            try:
                backend.warm_up()
            except LLMError as error:
                logger.warning("warming up LLM backend {} failed: {}", backend.name, error)

    def check(self) -> None:
        """Ready when at least one backend is."""
        problems = []
        for backend in self.backends:
            try:
                backend.check()
                return
            except LLMError as error:
                problems.append(f"{backend.name}: {error}")
        raise LLMUnavailable("no LLM backend is available (" + "; ".join(problems) + ")")

    def stream(self, messages: Messages, params: GenerationParams) -> TokenStream:
        attempts: list[dict[str, str]] = []
        last: LLMError | None = None
        for backend in self.backends:
            stream = None
            try:
                stream = backend.stream(messages, params)
                stream.prime()
            except (LLMUnavailable, LLMTimeout) as error:
                if stream is not None:
                    stream.close()
                attempts.append({"backend": backend.name, "error": str(error)})
                logger.warning("LLM backend {} failed, trying the next: {}", backend.name, error)
                last = error
                continue
            stream.attempts = attempts
            return stream
        assert last is not None
        kind = LLMTimeout if all(_timed_out(a) for a in attempts) else LLMUnavailable
        raise kind(
            "every LLM backend failed: "
            + "; ".join(f"{a['backend']}: {a['error']}" for a in attempts)
        )

    def close(self) -> None:
        for backend in self.backends:
            backend.close()


def _timed_out(attempt: dict[str, str]) -> bool:
    return "timed out" in attempt["error"] or "no token" in attempt["error"]
