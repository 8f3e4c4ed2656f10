"""The service's Prometheus metrics, served by ``GET /metrics``.

Each app has its own ``CollectorRegistry`` (several apps in one process, as in the tests, keep
separate counts). Three sources feed it, none of them in the answering code itself:

- :class:`RequestMetrics`, an ASGI middleware: requests by endpoint (the route's path), method
  and status, and their duration;
- :class:`MeteredTraceStore`, the service's trace store: every finished request's trace gives
  the stage latencies (retrieval, time to first token, generation, total), the tokens in and
  out, the model that answered and, for a priced backend, the estimated cost;
- a collector read at scrape time: response-cache hits and misses, the generation queue, the
  model serving new requests (an info metric and its registry version number).

Abstentions are counted from the traces (``"abstained": true``) or by
:func:`record_abstention`, model reloads by
:meth:`ServiceMetrics.record_reload`.
"""

import re
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from llm_twin.application.inference import TraceStore, TwinService
from llm_twin.settings import Settings

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

#: Latency buckets (s): a cached answer in milliseconds to a long CPU generation.
STAGE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120)
#: The stages of a request's trace, as ``latency_ms`` names them.
STAGES = ("retrieval", "ttft", "generation", "total")
#: The endpoint label of a request no route matched (kept apart: unmatched paths are unbounded).
UNMATCHED = "unmatched"
_VERSION = re.compile(r"-v(\d+)$")


class ServiceMetrics:
    """The metrics of one app, in their own registry.

    Args:
        settings: The prices of priced backends (``OPENAI_PRICE_*_PER_MILLION``).
    """

    def __init__(self, settings: Settings) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry: CollectorRegistry = CollectorRegistry()
        registry = self.registry
        self.requests = Counter(
            "llm_twin_http_requests",
            "HTTP requests by endpoint (route path), method and status code",
            ["endpoint", "method", "status"],
            registry=registry,
        )
        self.request_seconds = Histogram(
            "llm_twin_http_request_duration_seconds",
            "HTTP request duration by endpoint, to the last byte of the response",
            ["endpoint"],
            buckets=STAGE_BUCKETS,
            registry=registry,
        )
        self.stage_seconds = Histogram(
            "llm_twin_stage_duration_seconds",
            "Duration of each stage of an answered request: retrieval, ttft (time to the first "
            "streamed token), generation, total",
            ["stage", "endpoint"],
            buckets=STAGE_BUCKETS,
            registry=registry,
        )
        self.answers = Counter(
            "llm_twin_answers",
            "Finished answering requests by endpoint, the model that answered, and outcome "
            "(ok, cached, error)",
            ["endpoint", "model", "outcome"],
            registry=registry,
        )
        self.tokens = Counter(
            "llm_twin_tokens",
            "Tokens by direction (in: prompt, out: completion) and model",
            ["direction", "model"],
            registry=registry,
        )
        self.cost = Counter(
            "llm_twin_estimated_cost_usd",
            "Estimated cost of the answers of priced backends (OPENAI_PRICE_*_PER_MILLION)",
            ["backend", "model"],
            registry=registry,
        )
        self.abstentions = Counter(
            "llm_twin_abstentions",
            "Requests where the twin said it has not written about the question",
            ["endpoint"],
            registry=registry,
        )
        self.reloads = Counter(
            "llm_twin_model_reloads",
            "Model reloads after a promotion, by outcome (loaded, failed)",
            ["outcome"],
            registry=registry,
        )
        llm = settings.llm
        #: USD per million (prompt, completion) tokens, by backend name.
        self.prices = {
            "openai": (llm.openai_price_input_per_million, llm.openai_price_output_per_million)
        }

    def observe_trace(self, trace: Mapping[str, Any]) -> None:  # Any: free-form trace JSON
        """Count a finished request from its trace (see :class:`MeteredTraceStore`).

        Args:
            trace: The request's trace as the answering service records it.
        """
        endpoint = str(trace.get("endpoint") or UNMATCHED)
        latency = trace.get("latency_ms") or {}
        cached = bool(trace.get("cached"))
        # Cached and retrieval-only requests generate nothing: only their total is a latency.
        generated = not cached and trace.get("finish_reason") != "retrieval_only"
        for stage in STAGES:
            value = latency.get(stage)
            measured = generated or stage == "total" or (stage == "retrieval" and not cached)
            if measured and isinstance(value, int | float):
                self.stage_seconds.labels(stage, endpoint).observe(value / 1000)
        if trace.get("abstained") is True:
            self.abstentions.labels(endpoint).inc()
        model = str(trace.get("model") or "unknown")
        outcome = "error" if trace.get("error") else "cached" if cached else "ok"
        self.answers.labels(endpoint, model, outcome).inc()
        usage = trace.get("usage") or {}
        if not generated or not isinstance(usage, Mapping):
            return
        prompt = _count(usage.get("prompt_tokens"))
        completion = _count(usage.get("completion_tokens"))
        self.tokens.labels("in", model).inc(prompt)
        self.tokens.labels("out", model).inc(completion)
        price_in, price_out = self.prices.get(str(trace.get("backend")), (0.0, 0.0))
        if price_in or price_out:
            cost = (prompt * price_in + completion * price_out) / 1e6
            self.cost.labels(str(trace.get("backend")), model).inc(cost)

    def record_reload(self, outcome: str, model_id: str) -> None:
        """Count a model reload (a :class:`~llm_twin.model.serving.ProductionWatcher`
        listener).

        Args:
            outcome: ``loaded`` or ``failed``.
            model_id: The model it concerned (in the log, not a label).
        """
        self.reloads.labels(outcome).inc()

    def watch(self, service: Callable[[], TwinService | None]) -> None:
        """Read the cache, queue and model of the app's service at each scrape.

        Args:
            service: The app's service (None before start-up).
        """
        self.registry.register(_ServiceCollector(service))

    def render(self) -> tuple[bytes, str]:
        """The text exposition of every metric, and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def _count(value: object) -> int:
    return value if isinstance(value, int) and value > 0 else 0


class _ServiceCollector:
    """Values read from the service at scrape time (a custom prometheus-client collector)."""

    def __init__(self, service: Callable[[], TwinService | None]) -> None:
        self.service = service

    def collect(self) -> Iterator["Metric"]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            InfoMetricFamily,
        )

        service = self.service()
        if service is None:
            return
        stats = service.cache.stats
        yield CounterMetricFamily(
            "llm_twin_response_cache_hits", "Answers served from the response cache", stats.hits
        )
        yield CounterMetricFamily(
            "llm_twin_response_cache_misses", "Response-cache lookups not found", stats.misses
        )
        lookups = stats.hits + stats.misses
        yield GaugeMetricFamily(
            "llm_twin_response_cache_hit_ratio",
            "Hits / lookups of the response cache since start-up (0 before any lookup)",
            stats.hits / lookups if lookups else 0.0,
        )
        yield GaugeMetricFamily(
            "llm_twin_generation_active", "Answers being generated now", service.gate.active
        )
        yield GaugeMetricFamily(
            "llm_twin_generation_waiting", "Requests waiting for the model", service.gate.waiting
        )
        model_id = service.model_id
        yield InfoMetricFamily(
            "llm_twin_model", "The model serving new requests", {"model_id": model_id}
        )
        version = _VERSION.search(model_id)
        yield GaugeMetricFamily(
            "llm_twin_model_version",
            "Registry version number of the model serving new requests (0: not a registry version)",
            int(version.group(1)) if version else 0,
        )


class MeteredTraceStore(TraceStore):
    """The trace store, counting every recorded trace in the app's metrics.

    Args:
        directory: Folder of the files.
        opik_project: The Opik project traces also go to (None: none).
        metrics: The app's metrics.
        max_bytes: The traces file is rotated past this size (0: never).
        retention_days: Rotated files older than this are deleted (0: kept).
        max_files: At most this many rotated files are kept (0: no limit).
    """

    def __init__(
        self,
        directory: Path,
        opik_project: str | None,
        *,
        metrics: ServiceMetrics,
        max_bytes: int = 0,
        retention_days: float = 0,
        max_files: int = 0,
    ) -> None:
        super().__init__(
            directory,
            opik_project,
            max_bytes=max_bytes,
            retention_days=retention_days,
            max_files=max_files,
        )
        self.metrics = metrics

    def record(self, trace: dict[str, Any]) -> None:
        super().record(trace)
        self.metrics.observe_trace(trace)


class RequestMetrics:
    """ASGI middleware counting requests by endpoint, method and status, with their duration.

    Args:
        app: The wrapped application.
        metrics: The app's metrics.
    """

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets when the app fails before answering

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            # The router puts the matched route in the (shared) scope.
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or UNMATCHED
            self.metrics.requests.labels(endpoint, scope["method"], str(status)).inc()
            self.metrics.request_seconds.labels(endpoint).observe(time.perf_counter() - started)


def install_metrics(app: FastAPI, settings: Settings) -> ServiceMetrics:
    """Give ``app`` its metrics (``app.state.metrics``) and the request middleware.

    Args:
        app: The app, before it starts.
        settings: Its settings.
    """
    metrics = ServiceMetrics(settings)
    metrics.watch(lambda: getattr(app.state, "service", None))
    app.state.metrics = metrics
    app.add_middleware(RequestMetrics, metrics=metrics)
    return metrics


def record_abstention(request: Request, endpoint: str | None = None) -> None:
    """Count an abstention (the twin said it has not written about the question).

    Args:
        request: The request that abstained (its app's metrics count it).
        endpoint: The endpoint label (default: the matched route's path).
    """
    metrics: ServiceMetrics | None = getattr(request.app.state, "metrics", None)
    if metrics is None:
        return
    route = request.scope.get("route")
    label = endpoint or getattr(route, "path", None) or UNMATCHED
    metrics.abstentions.labels(label).inc()
