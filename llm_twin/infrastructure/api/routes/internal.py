"""``POST /internal/vector-store/{operation}``: the service's own vector store, for the other
processes of this machine while the service holds the embedded store (the feature pipeline,
CDC, the quickstart; see :mod:`llm_twin.infrastructure.db.remote_vector_store`).

Only callers sending the token the service wrote at start-up (``service.token`` beside the
store's holder file, readable by its user only) are served; the endpoint is not in the OpenAPI
schema. After a write the response cache is emptied, so no answer predates the new content, and
the authors of new points join the retriever's directory (self-query and the ``author`` filter
know them at once).
"""

import json
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from llm_twin.application.inference import TwinService
from llm_twin.domain.exceptions import StoreUnavailable
from llm_twin.infrastructure.api.deps import Service
from llm_twin.infrastructure.db.vector_store_wire import (
    OPERATIONS,
    WRITE_OPERATIONS,
    serve_operation,
)

router = APIRouter(include_in_schema=False)


def internal_caller(request: Request) -> None:
    """Require the service's internal token (``Authorization: Bearer <token>``)."""
    expected: str | None = getattr(request.app.state, "internal_token", None)
    if expected is None:
        raise StarletteHTTPException(
            404, "this service does not serve a vector store (it holds no embedded store)"
        )
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(
        token.strip().encode(), expected.encode()
    ):
        raise StarletteHTTPException(
            401, "missing or wrong internal token", headers={"WWW-Authenticate": "Bearer"}
        )


Internal = Annotated[None, Depends(internal_caller)]


@router.post("/internal/vector-store/{operation}")
async def vector_store_operation(
    operation: str, request: Request, service: Service, _caller: Internal
) -> JSONResponse:
    if operation not in OPERATIONS:
        raise StarletteHTTPException(404, f"unknown vector-store operation {operation!r}")
    try:
        body: Any = json.loads(await request.body() or b"{}")  # Any: checked by the wire module
    except ValueError:
        raise StarletteHTTPException(400, "the body is not JSON") from None
    if service.retriever is None:
        raise StoreUnavailable("the service's vector store is not open (see GET /ready)")
    store = service.retriever.store
    try:
        result = await run_in_threadpool(serve_operation, store, operation, body)
    except KeyError as error:
        raise StarletteHTTPException(404, str(error.args[0] if error.args else error)) from None
    except ValueError as error:
        raise StarletteHTTPException(400, str(error)) from None
    if operation in WRITE_OPERATIONS:
        service.cache.clear()
    if operation == "upsert":
        _learn_authors(service, body)
    return JSONResponse(result)


def _learn_authors(service: TwinService, body: dict[str, Any]) -> None:  # Any: JSON values
    """Add the authors of upserted points (``author_id``, ``author_full_name``) that the
    retriever's directory does not know yet.

    Args:
        service: The service (its retriever's directory grows).
        body: The upsert's body (checked already).
    """
    from llm_twin.application.rag.self_query import Author

    directory = getattr(service.retriever, "directory", None)
    if directory is None:
        return
    known = {author.id for author in directory.authors}
    for point in body["points"]:
        payload = point.get("payload") or {}
        author_id, name = payload.get("author_id"), payload.get("author_full_name")
        if isinstance(author_id, str) and isinstance(name, str) and author_id not in known:
            directory.authors.append(Author(author_id, name))
            known.add(author_id)
