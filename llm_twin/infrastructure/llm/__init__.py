"""LLM backends behind one interface (:class:`LLMBackend`): in-process transformers, any
OpenAI-compatible server, a SageMaker endpoint, and an ordered fallback chain over them."""

from llm_twin.infrastructure.llm.base import Completion, GenerationParams, LLMBackend, TokenStream
from llm_twin.infrastructure.llm.errors import LLMError, LLMTimeout, LLMUnavailable
from llm_twin.infrastructure.llm.factory import build_backend, build_llm

__all__ = [
    "Completion",
    "GenerationParams",
    "LLMBackend",
    "LLMError",
    "LLMTimeout",
    "LLMUnavailable",
    "TokenStream",
    "build_backend",
    "build_llm",
]
