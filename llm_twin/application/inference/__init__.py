"""The twin's answering use case (prepare → retrieve → prompt → generate → guard → trace →
cache), independent of HTTP: the API in ``llm_twin.infrastructure.api`` and the RAG evaluation
both answer through :class:`TwinService`."""

from llm_twin.application.inference.cache import CacheStats, ResponseCache
from llm_twin.application.inference.models import Answer, AnswerSource, Latency, Usage
from llm_twin.application.inference.service import AnswerStream, Prepared, TwinService
from llm_twin.application.inference.traces import TraceStore

__all__ = [
    "Answer",
    "AnswerSource",
    "AnswerStream",
    "CacheStats",
    "Latency",
    "Prepared",
    "ResponseCache",
    "TraceStore",
    "TwinService",
    "Usage",
]
