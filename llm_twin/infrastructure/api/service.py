"""The twin's answering logic, independent of HTTP: guardrails, retrieval, prompt, generation
(whole or streamed), PII masking, cache and trace. All methods block: the API calls them in a
thread pool."""

import datetime as dt
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from llm_twin.domain.exceptions import LLMTwinError
from llm_twin.infrastructure.api.cache import ResponseCache
from llm_twin.infrastructure.api.guardrails import (
    check_query,
    injection_flags,
    mask_pii,
    mask_stream,
)
from llm_twin.infrastructure.api.traces import TraceStore, elapsed_ms, new_trace_id
from llm_twin.infrastructure.llm.base import GenerationParams, LLMBackend, LLMUnavailable
from llm_twin.model.prompts import build_messages
from llm_twin.settings import Settings


@dataclass
class Prepared:
    """A request after retrieval, ready for generation.

    Attributes:
        trace: The trace being built (stored by :meth:`TwinService.finish`).
        messages: The chat messages for the LLM (system prompt, history, context + question).
        sources: The answer's sources (one per link, best first).
        params: Generation parameters.
        cache_key: Key of the response cache.
        started: ``time.perf_counter()`` at the start of the request.
        retrieval_ms: Retrieval time.
    """

    trace: dict[str, Any]
    messages: list[dict[str, str]]
    sources: list[dict[str, Any]]
    params: GenerationParams
    cache_key: str
    started: float
    retrieval_ms: float
    extra: dict[str, Any] = field(default_factory=dict)


class TwinService:
    """Answers questions in the author's voice from retrieved passages.

    Args:
        settings: Guardrail, context and generation settings.
        retriever: A ``ContextRetriever`` (``search(query, k, author, categories)``), or
            ``None`` when it could not be loaded (requests then fail with 503).
        llm: The LLM backend (usually a fallback chain), or ``None`` when unavailable.
        traces: Where traces go.
        cache: The response cache.
    """

    def __init__(
        self,
        settings: Settings,
        retriever: Any,
        llm: LLMBackend | None,
        traces: TraceStore,
        cache: ResponseCache,
    ) -> None:
        self.settings = settings
        self.retriever = retriever
        self.llm = llm
        self.traces = traces
        self.cache = cache
        # One search at a time: the embedded store and the embedder are shared by all requests.
        self._retrieval_lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return self.llm.model_id if self.llm is not None else "unavailable"

    # -- retrieval ---------------------------------------------------------------------------
    def prepare(
        self,
        query: str,
        *,
        endpoint: str,
        k: int | None = None,
        author: str | None = None,
        categories: Sequence[str] | None = None,
        history: Sequence[Mapping[str, str]] = (),
        params: GenerationParams | None = None,
        use_cache: bool = True,
        published_after: dt.date | None = None,
        published_before: dt.date | None = None,
    ) -> Prepared:
        """Check the question, retrieve passages and build the prompt.

        With ``use_cache`` and a cached answer for the same question, filters, history, model
        and parameters, retrieval is skipped: :meth:`cached` then returns that answer.

        Raises:
            InvalidInput: bad question, k, author or category (nothing is generated).
            StoreUnavailable: the retriever is not loaded.
        """
        from llm_twin.application.rag import to_context
        from llm_twin.domain.exceptions import StoreUnavailable

        started = time.perf_counter()
        trace: dict[str, Any] = {
            "trace_id": new_trace_id(),
            "endpoint": endpoint,
            "query": query,
            "filters": {"k": k, "author": author, "categories": categories},
        }
        dates = _date_filters(published_after, published_before)
        trace["filters"] |= {name: str(value) for name, value in dates.items()}
        filters = {"author": author, "categories": categories, **dates}
        params = params or GenerationParams.from_settings(self.settings)
        try:
            query = check_query(query, self.settings.API_MAX_QUERY_CHARS)
            trace["injection_flags"] = injection_flags(query)
            cache_key = ResponseCache.key(
                query=query,
                k=k,
                **filters,
                history=list(history),
                model=self.model_id,
                params=vars(params),
            )
            hit = self.cache.get(cache_key) if use_cache else None
            if hit is not None:
                trace |= {"sources": hit["sources"], "params": vars(params)}
                return Prepared(
                    trace, [], hit["sources"], params, cache_key, started, 0.0, {"hit": hit}
                )
            if self.retriever is None:
                raise StoreUnavailable("the retriever is not loaded (see GET /ready)")
            trace["filters"]["extracted"] = self._extracted_filters(query)
            retrieval_started = time.perf_counter()
            with self._retrieval_lock:
                chunks = self.retriever.search(query, k=k, **filters)
            retrieval_ms = elapsed_ms(retrieval_started)
        except LLMTwinError as error:
            self.finish_error(trace, started, error)
            raise
        context = to_context(chunks, max_chars=self.settings.LLM_CONTEXT_CHARS)
        messages = build_messages(query, context, history)
        sources: dict[str, dict[str, Any]] = {}
        for chunk in chunks:
            if chunk.link not in sources:
                sources[chunk.link] = {
                    "title": chunk.title,
                    "link": chunk.link,
                    "author": chunk.author,
                    "score": round(float(chunk.score), 6),
                }
        trace |= {"sources": list(sources.values()), "prompt": messages, "params": vars(params)}
        return Prepared(
            trace, messages, list(sources.values()), params, cache_key, started, retrieval_ms
        )

    def _extracted_filters(self, query: str) -> dict[str, Any] | None:
        """What rule-based self-query reads from the question (only that one: it is free)."""
        from llm_twin.application.rag.self_query import RuleSelfQuery

        extractor = getattr(self.retriever, "self_query", None)
        if not isinstance(extractor, RuleSelfQuery):
            return None
        found = extractor.extract(query)
        return {
            "authors": [author.full_name for author in found.authors],
            "categories": [category.value for category in found.categories],
        }

    # -- generation --------------------------------------------------------------------------
    def cached(self, prepared: Prepared) -> dict[str, Any] | None:
        """The cached answer :meth:`prepare` found for this request (traced), or ``None``."""
        hit = prepared.extra.get("hit")
        if hit is None:
            return None
        result = {**hit, "cached": True, "trace_id": prepared.trace["trace_id"]}
        result["latency_ms"] = {
            "retrieval": prepared.retrieval_ms,
            "generation": 0.0,
            "total": elapsed_ms(prepared.started),
        }
        prepared.trace |= {
            "answer": result["answer"],
            "usage": result["usage"],
            "latency_ms": result["latency_ms"],
            "model": result["model"],
            "cached": True,
        }
        self.traces.record(prepared.trace)
        return result

    def _llm(self) -> LLMBackend:
        if self.llm is None:
            raise LLMUnavailable("no LLM backend is loaded (see GET /ready)")
        return self.llm

    def answer(self, prepared: Prepared) -> dict[str, Any]:
        """The whole answer (from the cache when possible), traced.

        Raises:
            LLMUnavailable, LLMTimeout, LLMError: generation failed (traced too).
        """
        cached = self.cached(prepared)
        if cached is not None:
            return cached
        generation_started = time.perf_counter()
        try:
            completion = self._llm().complete(prepared.messages, prepared.params)
        except LLMTwinError as error:
            self.finish_error(prepared.trace, prepared.started, error)
            raise
        generation_ms = elapsed_ms(generation_started)
        return self._finish(
            prepared,
            text=mask_pii(completion.text),
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            model=completion.model,
            backend=completion.backend,
            attempts=completion.attempts,
            finish_reason=completion.finish_reason,
            generation_ms=generation_ms,
        )

    def sources_only(self, prepared: Prepared) -> dict[str, Any]:
        """The sources without an answer (no generation, not cached), traced."""
        return self._finish(
            prepared,
            text="",
            prompt_tokens=0,
            completion_tokens=0,
            model="none",
            backend="none",
            attempts=[],
            finish_reason="retrieval_only",
            generation_ms=0.0,
            cache=False,
        )

    def open_stream(self, prepared: Prepared) -> "AnswerStream":
        """Start a streamed answer; failing to start raises here (traced), before any event."""
        started = time.perf_counter()
        try:
            stream = self._llm().stream(prepared.messages, prepared.params)
            stream.prime()
        except LLMTwinError as error:
            self.finish_error(prepared.trace, prepared.started, error)
            raise
        return AnswerStream(self, prepared, stream, started)

    def _finish(
        self,
        prepared: Prepared,
        *,
        text: str,
        prompt_tokens: int,
        completion_tokens: int,
        model: str,
        backend: str,
        attempts: list[dict[str, str]],
        finish_reason: str,
        generation_ms: float,
        ttft_ms: float | None = None,
        error: dict[str, str] | None = None,
        cache: bool = True,
    ) -> dict[str, Any]:
        latency = {
            "retrieval": prepared.retrieval_ms,
            "generation": generation_ms,
            "total": elapsed_ms(prepared.started),
        }
        if ttft_ms is not None:
            latency["ttft"] = ttft_ms
        result = {
            "answer": text,
            "sources": prepared.sources,
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens},
            "latency_ms": latency,
            "trace_id": prepared.trace["trace_id"],
            "model": model,
            "finish_reason": finish_reason,
            "cached": False,
        }
        prepared.trace |= {
            "answer": text,
            "usage": result["usage"],
            "latency_ms": latency,
            "model": model,
            "backend": backend,
            "attempts": attempts,
            "finish_reason": finish_reason,
            "cached": False,
            "error": error,
        }
        self.traces.record(prepared.trace)
        if error is None and cache:
            self.cache.put(prepared.cache_key, result)
        return result

    def finish_error(self, trace: dict[str, Any], started: float, error: Exception) -> None:
        """Record a trace for a request that failed with ``error``."""
        trace |= {
            "error": {"type": type(error).__name__, "message": str(error)},
            "latency_ms": {**trace.get("latency_ms", {}), "total": elapsed_ms(started)},
            "model": self.model_id,
        }
        self.traces.record(trace)


class AnswerStream:
    """A streamed answer: iterate :meth:`deltas` (PII-masked), then :meth:`finish`.

    Args:
        service: The service that opened it.
        prepared: The request.
        stream: The LLM's token stream (already primed).
        started: When generation started (``perf_counter``).
    """

    def __init__(self, service: TwinService, prepared: Prepared, stream: Any, started: float):
        self.service = service
        self.prepared = prepared
        self.stream = stream
        self.started = started
        self.ttft_ms: float | None = None
        self.parts: list[str] = []

    def deltas(self) -> Iterator[str]:
        """Masked text deltas (blocking; iterate in a thread)."""
        for delta in mask_stream(self.stream):
            if self.ttft_ms is None:
                self.ttft_ms = elapsed_ms(self.prepared.started)
            self.parts.append(delta)
            yield delta

    def finish(self, error: Exception | None = None) -> dict[str, Any]:
        """Stop generation, record the trace and return the final answer record."""
        self.stream.close()
        return self.service._finish(
            self.prepared,
            text="".join(self.parts),
            prompt_tokens=self.stream.prompt_tokens,
            completion_tokens=self.stream.completion_tokens,
            model=self.stream.model,
            backend=self.stream.backend,
            attempts=self.stream.attempts,
            finish_reason=self.stream.finish_reason if error is None else "error",
            generation_ms=elapsed_ms(self.started),
            ttft_ms=self.ttft_ms,
            error={"type": type(error).__name__, "message": _public(error)} if error else None,
        )


def _public(error: Exception) -> str:
    """A message safe to show: the project's own messages, else only the error type."""
    return str(error) if isinstance(error, LLMTwinError) else type(error).__name__


def _date_filters(after: dt.date | None, before: dt.date | None) -> dict[str, dt.date]:
    """The retriever's date arguments that are set (only those are passed on, so a retriever
    without date filters keeps working)."""
    dates = {"published_after": after, "published_before": before}
    return {name: value for name, value in dates.items() if value is not None}
