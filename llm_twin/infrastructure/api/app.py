"""The FastAPI app: ``/rag``, ``/v1/chat/completions`` (+SSE), ``/v1/models``, ``/feedback``,
``/health``, ``/ready``, ``/stats`` and the chat page at ``/``.

The retriever (embedder + vector store) and the LLM load once, in the lifespan, in a worker
thread; every blocking call (retrieval, generation, token streaming, trace files) runs in the
thread pool, never on the event loop. The routes are in :mod:`llm_twin.infrastructure.api.routes`,
the answering itself in :mod:`llm_twin.application.inference`.
"""

import asyncio
import contextlib
import gc
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from fastapi import FastAPI
from loguru import logger
from starlette.concurrency import run_in_threadpool

from llm_twin.application.inference import ResponseCache, TraceStore, TwinService
from llm_twin.domain.exceptions import LLMTwinError
from llm_twin.infrastructure.api.errors import install_error_handlers
from llm_twin.infrastructure.api.limits import BodySizeLimit
from llm_twin.infrastructure.api.live import LiveUpdates, serve_vector_store, start_live_updates
from llm_twin.infrastructure.api.metrics import MeteredTraceStore, ServiceMetrics, install_metrics
from llm_twin.infrastructure.api.ratelimit import RateLimiter
from llm_twin.infrastructure.api.routes import ROUTERS
from llm_twin.infrastructure.llm.base import LLMBackend
from llm_twin.settings import Settings, get_settings

if TYPE_CHECKING:
    from tenacity import RetryCallState

    from llm_twin.application.rag import ContextRetriever

RetrieverFactory = Callable[[Settings], "ContextRetriever"]
LLMFactory = Callable[[Settings], LLMBackend]
Component = TypeVar("Component", "ContextRetriever", LLMBackend)

#: How the log names the components that load at startup.
LOG_NAMES = {"retriever": "retriever", "llm": "LLM"}

DESCRIPTION = (
    "Answers in the author's voice from their own writing, with sources. "
    "`/v1/chat/completions` is OpenAI-compatible; its responses carry the extension "
    "fields `sources` and `trace_id` (in the first chunk when streaming)."
)


def create_app(
    settings: Settings | None = None,
    *,
    retriever: "ContextRetriever | None" = None,
    llm: LLMBackend | None = None,
    retriever_factory: RetrieverFactory | None = None,
    llm_factory: LLMFactory | None = None,
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
        owned: list[ContextRetriever | LLMBackend] = []
        errors = app.state.load_errors = {}
        loaded_retriever = retriever
        build_retriever = partial(retriever_factory or _default_retriever, settings)
        if loaded_retriever is None:
            loaded_retriever = await _load("retriever", build_retriever, owned, errors)
        loaded_llm = llm
        if loaded_llm is None:
            build = partial(_loaded_llm, llm_factory or _default_llm, settings)
            loaded_llm = await _load("llm", build, owned, errors)
        await run_in_threadpool(_warm_up, loaded_retriever, loaded_llm, errors)
        app.state.service = TwinService(
            settings,
            loaded_retriever,
            loaded_llm,
            _trace_store(settings, app.state.metrics),
            ResponseCache(settings.api.cache_ttl),
        )
        app.state.started_at = time.time()
        live = await run_in_threadpool(start_live_updates, app, loaded_llm)
        recovery = (
            None
            if loaded_retriever is not None
            else asyncio.create_task(
                _recover_retriever(app, build_retriever, owned, settings.api.store_retry_seconds)
            )
        )
        logger.info(
            "inference service ready to serve (model {}, traces in {})",
            app.state.service.model_id,
            settings.traces_dir,
        )
        try:
            yield
        finally:
            await _shut_down(app, recovery, live, owned)

    app = FastAPI(
        title="LLM Twin inference service",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.rate_limiter = RateLimiter(settings.api.rate_limit_per_minute)
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.api.max_body_bytes)
    install_metrics(app, settings)
    for router in ROUTERS:
        app.include_router(router)
    return app


async def _shut_down(
    app: FastAPI,
    recovery: "asyncio.Task[None] | None",
    live: LiveUpdates,
    owned: list["ContextRetriever | LLMBackend"],
) -> None:
    """Stop what runs in the background, then close the traces and the owned components.

    Args:
        app: The app.
        recovery: The task retrying to open the stores, if any.
        live: The live updates (model watcher, served store).
        owned: Components the app built (closed last first).
    """
    if recovery is not None:
        recovery.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await recovery
    await run_in_threadpool(live.stop)
    app.state.service.traces.close()
    for component in reversed(owned):
        component.close()


async def _load(
    component: str,
    build: Callable[[], Component],
    owned: list["ContextRetriever | LLMBackend"],
    load_errors: dict[str, str],
) -> Component | None:
    """Build (and load) a component in a worker thread; on failure, note why and go on
    without it.

    Args:
        component: ``retriever`` or ``llm`` (the key of ``load_errors``).
        build: Builds the component, ready to use.
        owned: Components the app closes at shutdown (the new one is added).
        load_errors: Loading errors by component (for ``/ready``).
    """
    try:
        built = await run_in_threadpool(build)
    except LLMTwinError as error:
        load_errors[component] = str(error)
        logger.error("{} not loaded: {}", LOG_NAMES[component], error)
        return None
    owned.append(built)
    return built


async def _recover_retriever(
    app: FastAPI,
    build: Callable[[], "ContextRetriever"],
    owned: list["ContextRetriever | LLMBackend"],
    max_interval: float,
) -> None:
    """Retry opening the stores until it works (a lock held at start-up is released, the
    folder appears), then serve with them: ``/ready`` turns 200 without a restart. Each failure
    replaces the reason ``/ready`` shows.

    Args:
        app: The app (its service and loading errors are updated).
        build: Builds the retriever.
        owned: Components the app closes at shutdown (the retriever is added).
        max_interval: Longest pause between two attempts (s).
    """
    from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

    def note(state: "RetryCallState") -> None:
        error = state.outcome.exception() if state.outcome else None
        app.state.load_errors["retriever"] = str(error)
        logger.info("stores still unavailable ({}); retrying", error)

    retrying = AsyncRetrying(
        wait=wait_exponential(multiplier=0.5, max=max_interval),
        retry=retry_if_exception_type(LLMTwinError),
        before_sleep=note,
    )
    async for attempt in retrying:
        with attempt:
            built = await run_in_threadpool(build)
    owned.append(built)
    app.state.load_errors.pop("retriever", None)
    await run_in_threadpool(_warm_up, built, None, app.state.load_errors)
    app.state.service.retriever = built
    await run_in_threadpool(serve_vector_store, app)
    logger.info("stores opened after start-up: the service is ready")


def _loaded_llm(factory: LLMFactory, settings: Settings) -> LLMBackend:
    """The LLM built by ``factory`` and loaded."""
    built = factory(settings)
    built.load()
    return built


def _warm_up(
    retriever: "ContextRetriever | None", llm: LLMBackend | None, load_errors: dict[str, str]
) -> None:
    """One search and one tiny generation at startup, so the first request does not pay the
    one-off costs (lazy model parts, caches); timed in the log.

    Args:
        retriever: The retriever, if loaded.
        llm: The LLM, if loaded.
        load_errors: Loading errors by component (a failed warm-up search is one).
    """
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
    # What start-up loaded stays for the life of the process: out of the collector's sight,
    # it is not scanned again by full collections, which otherwise stall a request for
    # ~250 ms now and then (measured in the retrieval CLI).
    gc.collect()
    gc.freeze()
    logger.info("warm-up took {:.1f} s", time.perf_counter() - started)


def _default_retriever(settings: Settings) -> "ContextRetriever":
    from llm_twin.application.rag import ContextRetriever

    return ContextRetriever.from_settings(settings, serving=True)


def _default_llm(settings: Settings) -> LLMBackend:
    """The served model, in a holder that follows promotions (see ``model/serving.py``)."""
    from llm_twin.model.serving import build_served_llm

    return build_served_llm(settings)


def _trace_store(settings: Settings, metrics: ServiceMetrics) -> TraceStore:
    """The trace files, rotated and kept as the ``TRACES_*`` settings say, counted in the
    app's metrics."""
    return MeteredTraceStore(
        settings.traces_dir,
        _opik_project(settings),
        metrics=metrics,
        max_bytes=settings.api.traces_max_bytes,
        retention_days=settings.api.traces_retention_days,
        max_files=settings.api.traces_max_files,
    )


def _opik_project(settings: Settings) -> str | None:
    """The Opik project traces also go to, or ``None`` when Opik is not configured (then
    nothing imports opik or touches the network). The Opik SDK reads its endpoint and key
    from ``OPIK_URL_OVERRIDE`` / ``OPIK_API_KEY``; they are set from the settings unless the
    environment already has them."""
    import os

    if settings.api.opik_api_key is None and not settings.api.opik_url:
        return None
    if settings.api.opik_url:
        os.environ.setdefault("OPIK_URL_OVERRIDE", settings.api.opik_url)
    if settings.api.opik_api_key is not None:
        os.environ.setdefault("OPIK_API_KEY", settings.api.opik_api_key.get_secret_value())
    return settings.api.opik_project
