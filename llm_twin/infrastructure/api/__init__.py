"""The inference service: FastAPI app with ``/rag``, the OpenAI-compatible ``/v1`` API, the chat
page, health/readiness, feedback and request traces. Build it with :func:`create_app`."""

from llm_twin.infrastructure.api.app import create_app

__all__ = ["create_app"]
