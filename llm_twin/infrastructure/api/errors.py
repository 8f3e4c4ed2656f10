"""The one place where errors become HTTP statuses and the JSON error body (OpenAI's shape)."""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from loguru import logger
from starlette.exceptions import HTTPException as StarletteHTTPException

from llm_twin.application.inference.admission import Overloaded, RequestCancelled
from llm_twin.domain.exceptions import (
    ImproperlyConfigured,
    InvalidInput,
    LLMTwinError,
    StoreUnavailable,
)
from llm_twin.infrastructure.api.schemas import ErrorResponse
from llm_twin.infrastructure.llm.base import LLMError, LLMTimeout, LLMUnavailable

#: The error responses the answering endpoints document in OpenAPI.
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (401, 422, 429, 502, 503, 504)
}


def status_of(error: Exception) -> int:
    """The HTTP status of a failure of the use case."""
    if isinstance(error, InvalidInput):
        return 422
    if isinstance(error, Overloaded):
        return 429
    if isinstance(error, LLMTimeout | RequestCancelled):
        return 504
    if isinstance(error, LLMUnavailable | StoreUnavailable | ImproperlyConfigured):
        return 503
    if isinstance(error, LLMError):
        return 502
    return 500


def error_body(status: int, message: str, kind: str) -> dict[str, dict[str, str | int]]:
    """The JSON error shape of every endpoint (OpenAI's).

    Args:
        status: The HTTP status.
        message: What went wrong, for the user.
        kind: The error's type name.
    """
    return {"error": {"message": message, "type": kind, "code": status}}


def error_event_body(error: Exception) -> dict[str, dict[str, str | int]]:
    """The error body of a failure that happens while an answer streams."""
    return error_body(status_of(error), str(error), type(error).__name__)


def _error_response(status: int, message: str, kind: str, **headers: str) -> JSONResponse:
    return JSONResponse(error_body(status, message, kind), status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error with :func:`error_body`: the project's errors by :func:`status_of`,
    invalid requests with 422, HTTP errors as raised, anything else with a logged 500."""

    @app.exception_handler(LLMTwinError)
    async def twin_error(request: Request, error: LLMTwinError) -> JSONResponse:
        headers = {"Retry-After": str(error.retry_after)} if isinstance(error, Overloaded) else {}
        return _error_response(status_of(error), str(error), type(error).__name__, **headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = []
        for item in error.errors():
            where = ".".join(str(part) for part in item.get("loc", ()) if part != "body")
            problems.append(f"{where or 'body'}: {item.get('msg', 'invalid')}")
        return _error_response(422, "invalid request: " + "; ".join(problems), "InvalidInput")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        return _error_response(
            error.status_code, str(error.detail), "HTTPError", **(error.headers or {})
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        logger.opt(exception=error).error("unexpected error on {}", request.url.path)
        return _error_response(500, "internal error; see the service log", "InternalError")
