"""``GET /metrics``: the service's metrics in Prometheus' text format (see
:mod:`llm_twin.infrastructure.api.metrics`)."""

from fastapi import APIRouter, Request
from fastapi.responses import Response

from llm_twin.infrastructure.api.deps import Client

router = APIRouter()


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request, client: Client) -> Response:
    content, content_type = request.app.state.metrics.render()
    return Response(content, media_type=content_type)
