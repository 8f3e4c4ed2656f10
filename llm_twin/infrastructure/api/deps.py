"""Typed dependencies of the routes: the settings, the answering service, the loading errors
and the authenticated, rate-limited caller."""

import secrets
from typing import Annotated

from fastapi import Depends, Request
from starlette.exceptions import HTTPException as StarletteHTTPException

from llm_twin.application.inference import TwinService
from llm_twin.settings import Settings


def app_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    return request.app.state.settings


def twin_service(request: Request) -> TwinService:
    """The app's :class:`TwinService` (built at startup)."""
    return request.app.state.service


def load_errors(request: Request) -> dict[str, str]:
    """Why a component (``retriever``, ``llm``) failed to load at startup, by component."""
    return request.app.state.load_errors


def started_at(request: Request) -> float:
    """When the service became ready (epoch seconds)."""
    return request.app.state.started_at


def require_client(request: Request, settings: Annotated[Settings, Depends(app_settings)]) -> str:
    """Authenticate (when ``API_KEY`` is set) and rate-limit the caller; returns its key."""
    client = request.client.host if request.client else "unknown"
    if settings.api.key is not None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        expected = settings.api.key.get_secret_value()
        if scheme.lower() != "bearer" or not secrets.compare_digest(
            token.strip().encode(), expected.encode()
        ):
            raise StarletteHTTPException(
                401,
                "missing or wrong API key: send 'Authorization: Bearer <API_KEY>'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        client = "key:" + token.strip()[-6:]
    wait = request.app.state.rate_limiter.check(client)
    if wait:
        raise StarletteHTTPException(
            429,
            f"rate limit of {settings.api.rate_limit_per_minute} requests per minute exceeded",
            headers={"Retry-After": str(int(wait) + 1)},
        )
    return client


Client = Annotated[str, Depends(require_client)]
Service = Annotated[TwinService, Depends(twin_service)]
AppSettings = Annotated[Settings, Depends(app_settings)]
LoadErrors = Annotated[dict[str, str], Depends(load_errors)]
StartedAt = Annotated[float, Depends(started_at)]
