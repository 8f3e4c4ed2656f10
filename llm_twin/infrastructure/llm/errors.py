"""The one LLM error hierarchy, raised by every backend (re-exported by ``base``)."""

from llm_twin.domain.exceptions import LLMTwinError


class LLMError(LLMTwinError):
    """The LLM failed or answered something unusable (the message never carries secrets)."""


class LLMUnavailable(LLMError):
    """The backend cannot be used: not loaded, unreachable, or refused with a server error."""


class LLMTimeout(LLMError):
    """The backend did not answer (or stopped streaming) within the timeout."""
