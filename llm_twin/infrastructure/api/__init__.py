"""The inference service's HTTP layer: the FastAPI app with ``/rag``, the OpenAI-compatible
``/v1`` API, the chat page, health/readiness and feedback (one router per group in
``routes/``). The answering use case is :mod:`llm_twin.application.inference`. Build the app
with :func:`create_app`."""

from llm_twin.infrastructure.api.app import create_app

__all__ = ["create_app"]
