"""The API's routers, one per group, in the order the app includes them."""

from llm_twin.infrastructure.api.routes import (
    chat,
    feedback,
    health,
    internal,
    metrics,
    page,
    rag,
    write,
)

#: Included in this order (it is the order of the OpenAPI paths).
ROUTERS = [
    page.router,
    health.router,
    rag.router,
    write.router,
    chat.router,
    feedback.router,
    metrics.router,
    internal.router,
]

__all__ = ["ROUTERS"]
