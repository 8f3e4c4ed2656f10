"""Liveness, readiness and the response-cache counters."""

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from llm_twin.application.inference import TwinService
from llm_twin.infrastructure.api.deps import Client, LoadErrors, Service
from llm_twin.infrastructure.llm.base import LLMError

router = APIRouter()


@router.get("/health", summary="Liveness")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", summary="Readiness: stores and model loaded", responses={503: {}})
async def ready(service: Service, errors: LoadErrors) -> JSONResponse:
    checks = {
        "retriever": await _retriever_check(service, errors),
        "llm": await _llm_check(service, errors),
    }
    ok = all(value.startswith("ok") for value in checks.values())
    return JSONResponse(
        {"status": "ready" if ok else "unavailable", "checks": checks},
        status_code=200 if ok else 503,
    )


async def _retriever_check(service: TwinService, errors: dict[str, str]) -> str:
    if service.retriever is None:
        return errors.get("retriever", "not loaded")
    try:
        count = await run_in_threadpool(service.retriever.store.count, service.retriever.collection)
    except Exception as error:  # any store failure means not ready; reported in the check
        return f"store error: {type(error).__name__}"
    return f"ok ({count} chunks)" if count else "no chunks indexed: run the feature pipeline first"


async def _llm_check(service: TwinService, errors: dict[str, str]) -> str:
    if service.llm is None:
        return errors.get("llm", "not loaded")
    try:
        await run_in_threadpool(service.llm.check)
    except LLMError as error:
        return str(error)
    return f"ok ({service.llm.model_id})"


@router.get("/stats", summary="Response-cache counters")
async def stats(service: Service, client: Client) -> dict[str, Any]:
    return {"cache": {"enabled": service.cache.enabled, **service.cache.stats.as_dict()}}
