"""The FastAPI app: ``/rag``, ``/v1/chat/completions`` (+SSE), ``/v1/models``, ``/feedback``,
``/health``, ``/ready``, ``/stats`` and the chat page at ``/``.

The retriever (embedder + vector store) and the LLM load once, in the lifespan, in a worker
thread; every blocking call (retrieval, generation, token streaming, trace files) runs in the
thread pool, never on the event loop.
"""

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from loguru import logger
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from llm_twin.domain.exceptions import (
    ImproperlyConfigured,
    InvalidInput,
    LLMTwinError,
    StoreUnavailable,
)
from llm_twin.infrastructure.api.cache import ResponseCache
from llm_twin.infrastructure.api.ratelimit import RateLimiter
from llm_twin.infrastructure.api.schemas import (
    ChatCompletionRequest,
    ChatCompletionResponse,
    ErrorResponse,
    FeedbackRequest,
    FeedbackResponse,
    RagRequest,
    RagResponse,
)
from llm_twin.infrastructure.api.service import TwinService
from llm_twin.infrastructure.api.traces import TraceStore
from llm_twin.infrastructure.llm.base import (
    GenerationParams,
    LLMBackend,
    LLMError,
    LLMTimeout,
    LLMUnavailable,
)
from llm_twin.settings import Settings, get_settings

#: The model id the OpenAI-compatible API serves.
SERVED_MODEL = "llm-twin"
STATIC_DIR = Path(__file__).resolve().parent / "static"
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (401, 422, 429, 502, 503, 504)
}


# -- errors ----------------------------------------------------------------------------------
def _status(error: Exception) -> int:
    if isinstance(error, InvalidInput):
        return 422
    if isinstance(error, LLMTimeout):
        return 504
    if isinstance(error, LLMUnavailable | StoreUnavailable | ImproperlyConfigured):
        return 503
    if isinstance(error, LLMError):
        return 502
    return 500


def error_body(status: int, message: str, kind: str) -> dict[str, Any]:
    """The JSON error shape of every endpoint (OpenAI's)."""
    return {"error": {"message": message, "type": kind, "code": status}}


def _error_response(status: int, message: str, kind: str, **headers: str) -> JSONResponse:
    return JSONResponse(error_body(status, message, kind), status_code=status, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LLMTwinError)
    async def twin_error(request: Request, error: LLMTwinError) -> JSONResponse:
        return _error_response(_status(error), str(error), type(error).__name__)

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


# -- dependencies ----------------------------------------------------------------------------
def app_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    return request.app.state.settings


def twin_service(request: Request) -> TwinService:
    """The app's :class:`TwinService`."""
    return request.app.state.service


def require_client(request: Request, settings: Annotated[Settings, Depends(app_settings)]) -> str:
    """Authenticate (when ``API_KEY`` is set) and rate-limit the caller; returns its key."""
    client = request.client.host if request.client else "unknown"
    if settings.API_KEY is not None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        expected = settings.API_KEY.get_secret_value()
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
            f"rate limit of {settings.API_RATE_LIMIT_PER_MINUTE} requests per minute exceeded",
            headers={"Retry-After": str(int(wait) + 1)},
        )
    return client


Client = Annotated[str, Depends(require_client)]
Service = Annotated[TwinService, Depends(twin_service)]
AppSettings = Annotated[Settings, Depends(app_settings)]


def _sse(data: Any, event: str | None = None) -> str:
    prefix = f"event: {event}\n" if event else ""
    return f"{prefix}data: {json.dumps(data, ensure_ascii=False)}\n\n"


# -- the app ---------------------------------------------------------------------------------
def create_app(
    settings: Settings | None = None,
    *,
    retriever: Any = None,
    llm: LLMBackend | None = None,
    retriever_factory: Callable[[Settings], Any] | None = None,
    llm_factory: Callable[[Settings], LLMBackend] | None = None,
) -> FastAPI:
    """Build the inference app.

    Args:
        settings: Defaults to :func:`get_settings`.
        retriever: A ready retriever (the app does not close it); when ``None`` one is built
            at startup by ``retriever_factory``.
        llm: A ready (loaded) LLM backend (not closed by the app); when ``None`` one is built
            and loaded at startup by ``llm_factory``.
        retriever_factory: Builds the retriever (default ``ContextRetriever.from_settings``,
            which opens the configured vector store: the embedded store is single-process, so
            this process owns it while it runs).
        llm_factory: Builds the LLM (default: the ``LLM_BACKENDS`` fallback chain).
    """
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = app.state
        owned: list[Any] = []
        state.load_errors = {}
        loaded_retriever, loaded_llm = retriever, llm
        if loaded_retriever is None:
            try:
                loaded_retriever = await run_in_threadpool(
                    retriever_factory or _default_retriever, settings
                )
                owned.append(loaded_retriever)
            except LLMTwinError as error:
                state.load_errors["retriever"] = str(error)
                logger.error("retriever not loaded: {}", error)
        if loaded_llm is None:
            try:
                loaded_llm = (llm_factory or _default_llm)(settings)
                await run_in_threadpool(loaded_llm.load)
                owned.append(loaded_llm)
            except LLMTwinError as error:
                loaded_llm = None
                state.load_errors["llm"] = str(error)
                logger.error("LLM not loaded: {}", error)
        await run_in_threadpool(_warm_up, loaded_retriever, loaded_llm, state.load_errors)
        state.service = TwinService(
            settings,
            loaded_retriever,
            loaded_llm,
            TraceStore(settings.traces_dir, _opik_project(settings)),
            ResponseCache(settings.API_CACHE_TTL),
        )
        state.started_at = time.time()
        logger.info(
            "inference service ready to serve (model {}, traces in {})",
            state.service.model_id,
            settings.traces_dir,
        )
        try:
            yield
        finally:
            for component in reversed(owned):
                component.close()

    app = FastAPI(
        title="LLM Twin inference service",
        version="0.1.0",
        description=(
            "Answers in the author's voice from their own writing, with sources. "
            "`/v1/chat/completions` is OpenAI-compatible; its responses carry the extension "
            "fields `sources` and `trace_id` (in the first chunk when streaming)."
        ),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.rate_limiter = RateLimiter(settings.API_RATE_LIMIT_PER_MINUTE)
    _install_error_handlers(app)
    _add_routes(app)
    return app


def _warm_up(retriever: Any, llm: LLMBackend | None, load_errors: dict[str, str]) -> None:
    """One search and one tiny generation at startup, so the first request does not pay the
    one-off costs (lazy model parts, caches); timed in the log."""
    started = time.perf_counter()
    if retriever is not None:
        try:
            if hasattr(retriever, "warm_up"):
                retriever.warm_up()
            else:
                retriever.search("warm-up", k=1)
        except LLMTwinError as error:
            load_errors["retriever"] = f"warm-up search failed: {error}"
            logger.error("retriever warm-up failed: {}", error)
    if llm is not None:
        llm.warm_up()
    logger.info("warm-up took {:.1f} s", time.perf_counter() - started)


def _default_retriever(settings: Settings) -> Any:
    from llm_twin.application.rag import ContextRetriever

    return ContextRetriever.from_settings(settings)


def _default_llm(settings: Settings) -> LLMBackend:
    from llm_twin.infrastructure.llm.factory import build_llm

    return build_llm(settings)


def _opik_project(settings: Settings) -> str | None:
    """The Opik project traces also go to, or ``None`` when Opik is not configured (then
    nothing imports opik or touches the network). The Opik SDK reads its endpoint and key
    from ``OPIK_URL_OVERRIDE`` / ``OPIK_API_KEY``; they are set from the settings unless the
    environment already has them."""
    import os

    if settings.OPIK_API_KEY is None and not settings.OPIK_URL:
        return None
    if settings.OPIK_URL:
        os.environ.setdefault("OPIK_URL_OVERRIDE", settings.OPIK_URL)
    if settings.OPIK_API_KEY is not None:
        os.environ.setdefault("OPIK_API_KEY", settings.OPIK_API_KEY.get_secret_value())
    return settings.OPIK_PROJECT


def _add_routes(app: FastAPI) -> None:
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def chat_page() -> HTMLResponse:
        return HTMLResponse((STATIC_DIR / "index.html").read_text(encoding="utf-8"))

    @app.get("/health", summary="Liveness")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", summary="Readiness: stores and model loaded", responses={503: {}})
    async def ready(request: Request, service: Service) -> JSONResponse:
        checks: dict[str, str] = {}
        errors = request.app.state.load_errors
        if service.retriever is None:
            checks["retriever"] = errors.get("retriever", "not loaded")
        else:
            try:
                count = await run_in_threadpool(
                    service.retriever.store.count, service.retriever.collection
                )
                checks["retriever"] = (
                    f"ok ({count} chunks)"
                    if count
                    else "no chunks indexed: run the feature pipeline first"
                )
            except Exception as error:  # any store failure means not ready; reported below
                checks["retriever"] = f"store error: {type(error).__name__}"
        if service.llm is None:
            checks["llm"] = errors.get("llm", "not loaded")
        else:
            try:
                await run_in_threadpool(service.llm.check)
                checks["llm"] = f"ok ({service.llm.model_id})"
            except LLMError as error:
                checks["llm"] = str(error)
        ok = all(value.startswith("ok") for value in checks.values())
        return JSONResponse(
            {"status": "ready" if ok else "unavailable", "checks": checks},
            status_code=200 if ok else 503,
        )

    @app.get("/stats", summary="Response-cache counters")
    async def stats(service: Service, client: Client) -> dict[str, Any]:
        return {"cache": {"enabled": service.cache.enabled, **service.cache.stats.as_dict()}}

    @app.post("/rag", response_model=RagResponse, responses=ERRORS, summary="Ask the twin")
    async def rag(body: RagRequest, service: Service, settings: AppSettings, client: Client) -> Any:
        params = GenerationParams.from_settings(
            settings, max_new_tokens=body.max_tokens, temperature=body.temperature
        )
        prepared = await run_in_threadpool(
            lambda: service.prepare(
                body.query,
                endpoint="/rag",
                k=body.k,
                author=body.author,
                categories=body.categories,
                published_after=body.published_after,
                published_before=body.published_before,
                params=params,
                use_cache=not body.retrieval_only,
            )
        )
        if body.retrieval_only:
            return await run_in_threadpool(service.sources_only, prepared)
        if not body.stream:
            return await run_in_threadpool(service.answer, prepared)
        cached = await run_in_threadpool(service.cached, prepared)

        async def cached_events() -> AsyncIterator[str]:
            assert cached is not None
            yield _sse({"sources": cached["sources"], "trace_id": cached["trace_id"]}, "sources")
            yield _sse({"text": cached["answer"]}, "token")
            yield _sse(_done(cached), "done")

        if cached is not None:
            return StreamingResponse(cached_events(), media_type="text/event-stream")
        answer = await run_in_threadpool(service.open_stream, prepared)

        async def events() -> AsyncIterator[str]:
            yield _sse(
                {"sources": prepared.sources, "trace_id": prepared.trace["trace_id"]}, "sources"
            )
            error: Exception | None = None
            try:
                async for delta in iterate_in_threadpool(answer.deltas()):
                    yield _sse({"text": delta}, "token")
            except LLMTwinError as failure:
                error = failure
            except (asyncio.CancelledError, GeneratorExit):
                # The client went away: stop generating and keep the partial answer's trace.
                answer.finish(ConnectionAbortedError("client disconnected"))
                raise
            result = await run_in_threadpool(answer.finish, error)
            if error is not None:
                yield _sse(error_body(_status(error), str(error), type(error).__name__), "error")
            else:
                yield _sse(_done(result), "done")

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.get("/v1/models", summary="OpenAI-compatible model list")
    async def models(service: Service, client: Client) -> dict[str, Any]:
        return {
            "object": "list",
            "data": [
                {
                    "id": SERVED_MODEL,
                    "object": "model",
                    "created": int(app.state.started_at),
                    "owned_by": "llm-twin",
                    "backend_model": service.model_id,
                }
            ],
        }

    @app.post(
        "/v1/chat/completions",
        response_model=ChatCompletionResponse,
        responses=ERRORS,
        summary="OpenAI-compatible chat completion (retrieval-augmented)",
    )
    async def chat_completions(
        body: ChatCompletionRequest, service: Service, settings: AppSettings, client: Client
    ) -> Any:
        last = body.messages[-1]
        if last.role != "user":
            raise InvalidInput("the last message must have role 'user'")
        history = [
            {"role": message.role, "content": message.text()}
            for message in body.messages[:-1]
            if message.role in ("user", "assistant")
        ]
        params = GenerationParams.from_settings(
            settings,
            max_new_tokens=body.max_completion_tokens or body.max_tokens,
            temperature=body.temperature,
            top_p=body.top_p,
        )
        prepared = await run_in_threadpool(
            lambda: service.prepare(
                last.text(),
                endpoint="/v1/chat/completions",
                k=body.k,
                author=body.author,
                history=history,
                params=params,
            )
        )
        trace_id = prepared.trace["trace_id"]
        completion_id = f"chatcmpl-{trace_id}"
        created = int(time.time())
        model = body.model or SERVED_MODEL
        if not body.stream:
            result = await run_in_threadpool(service.answer, prepared)
            usage = result["usage"]
            return {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": result["answer"]},
                        "finish_reason": result.get("finish_reason", "stop"),
                    }
                ],
                "usage": {
                    **usage,
                    "total_tokens": usage["prompt_tokens"] + usage["completion_tokens"],
                },
                "sources": result["sources"],
                "trace_id": trace_id,
            }

        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
            payload = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                **extra,
            }
            return _sse(payload)

        def usage_chunk(usage: dict[str, int]) -> str:
            total = usage["prompt_tokens"] + usage["completion_tokens"]
            return _sse(
                {
                    "id": completion_id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "choices": [],
                    "usage": {**usage, "total_tokens": total},
                }
            )

        cached = await run_in_threadpool(service.cached, prepared)
        answer = None if cached else await run_in_threadpool(service.open_stream, prepared)

        async def events() -> AsyncIterator[str]:
            yield chunk(
                {"role": "assistant", "content": ""},
                sources=prepared.sources,
                trace_id=trace_id,
            )
            if cached is not None:
                yield chunk({"content": cached["answer"]})
                yield chunk({}, "stop")
                yield usage_chunk(cached["usage"])
                yield "data: [DONE]\n\n"
                return
            assert answer is not None
            error: Exception | None = None
            try:
                async for delta in iterate_in_threadpool(answer.deltas()):
                    yield chunk({"content": delta})
            except LLMTwinError as failure:
                error = failure
            except (asyncio.CancelledError, GeneratorExit):
                # The client went away: stop generating and keep the partial answer's trace.
                answer.finish(ConnectionAbortedError("client disconnected"))
                raise
            result = await run_in_threadpool(answer.finish, error)
            if error is not None:
                yield _sse(error_body(_status(error), str(error), type(error).__name__))
            else:
                yield chunk({}, result.get("finish_reason", "stop"))
                yield usage_chunk(result["usage"])
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.post(
        "/feedback",
        response_model=FeedbackResponse,
        responses={404: {"model": ErrorResponse}, 422: {"model": ErrorResponse}},
        summary="Rate an answer; a correction becomes a preference pair",
    )
    async def feedback(body: FeedbackRequest, service: Service, client: Client) -> Any:
        correction = body.correction.strip() if body.correction else None
        try:
            await run_in_threadpool(
                service.traces.record_feedback, body.trace_id, body.rating, correction or None
            )
        except KeyError:
            raise StarletteHTTPException(404, f"no trace with id {body.trace_id!r}") from None
        return {"trace_id": body.trace_id, "rating": body.rating, "stored": True}


def _done(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "answer": result["answer"],
        "usage": result["usage"],
        "latency_ms": result["latency_ms"],
        "model": result["model"],
        "trace_id": result["trace_id"],
        "cached": result.get("cached", False),
    }
