"""The twin's answering use case, independent of HTTP: guardrails, retrieval, prompt, generation
(whole or streamed), PII masking, trace and cache. All methods block: the API calls them in a
thread pool. Failures are the project's own errors (``InvalidInput``, ``StoreUnavailable``,
``LLMError`` and its kinds); the API maps them to statuses."""

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llm_twin.application.inference.abstention import relevance, should_abstain
from llm_twin.application.inference.admission import Cancellation, GenerationGate
from llm_twin.application.inference.cache import ResponseCache
from llm_twin.application.inference.conversation import (
    QueryRewriter,
    recent_turns,
    token_counter,
)
from llm_twin.application.inference.guardrails import (
    check_query,
    injection_flags,
    mask_pii,
    mask_stream,
)
from llm_twin.application.inference.models import Answer, AnswerSource, Latency, Usage
from llm_twin.application.inference.tasks import ASK, PromptTask, check_instructions
from llm_twin.application.inference.traces import TraceStore, elapsed_ms, new_trace_id
from llm_twin.domain.exceptions import LLMTwinError, StoreUnavailable
from llm_twin.infrastructure.llm.base import (
    Completion,
    GenerationParams,
    LLMBackend,
    LLMUnavailable,
    TokenStream,
)
from llm_twin.settings import Settings

if TYPE_CHECKING:
    from llm_twin.application.rag import ContextRetriever, RetrievedChunk

#: What a retrieval-only request records as its "generation".
NOTHING_GENERATED = Completion(
    text="",
    prompt_tokens=0,
    completion_tokens=0,
    model="none",
    backend="none",
    finish_reason="retrieval_only",
)
#: What an abstaining request records as its "generation".
ABSTAINED = Completion(
    text="",
    prompt_tokens=0,
    completion_tokens=0,
    model="none",
    backend="none",
    finish_reason="abstained",
)


@dataclass
class Prepared:
    """A request after retrieval, ready for generation.

    Attributes:
        trace: The trace being built (a free-form JSON record, stored when the request ends).
        messages: The chat messages for the LLM (system prompt, history, context + question).
        sources: The answer's sources (one per link, best first).
        params: Generation parameters.
        cache_key: Key of the response cache.
        started: ``time.perf_counter()`` at the start of the request.
        retrieval_ms: Retrieval time.
        hit: The cached answer found for this request, if any (then nothing was retrieved).
        abstention: What the twin says instead of generating, when the best passage was below
            ``RAG_ABSTAIN_THRESHOLD`` (then nothing is generated).
    """

    trace: dict[str, Any]
    messages: list[dict[str, str]]
    sources: list[AnswerSource]
    params: GenerationParams
    cache_key: str
    started: float
    retrieval_ms: float
    hit: Answer | None = None
    abstention: str | None = None

    @property
    def trace_id(self) -> str:
        return self.trace["trace_id"]


@dataclass(frozen=True)
class PromptRequest:
    """What the prompt is built from, besides the passages.

    Attributes:
        query: The checked question (or write mode's topic).
        history: Earlier turns of the conversation.
        task: Answer (``ask``) or draft (``write``).
        instructions: The client's system prompt (appended to the twin's), or ``None``.
    """

    query: str
    history: Sequence[Mapping[str, str]]
    task: PromptTask
    instructions: str | None


def _sources(chunks: Sequence["RetrievedChunk"]) -> list[AnswerSource]:
    """One source per link, in the chunks' order (best first)."""
    sources: dict[str, AnswerSource] = {}
    for chunk in chunks:
        if chunk.link not in sources:
            sources[chunk.link] = AnswerSource(
                title=chunk.title,
                link=chunk.link,
                author=chunk.author,
                score=round(float(chunk.score), 6),
            )
    return list(sources.values())


def _records(sources: Sequence[AnswerSource]) -> list[dict[str, Any]]:
    return [source.model_dump() for source in sources]


@dataclass
class TwinService:
    """Answers questions in the author's voice from retrieved passages.

    Attributes:
        settings: Guardrail, context and generation settings.
        retriever: The retriever, or ``None`` when it could not be loaded (requests then fail
            with ``StoreUnavailable``).
        llm: The LLM backend (usually a fallback chain), or ``None`` when unavailable.
        traces: Where traces go.
        cache: The response cache.
    """

    settings: Settings
    retriever: "ContextRetriever | None"
    llm: LLMBackend | None
    traces: TraceStore
    cache: ResponseCache
    # One search at a time: the embedded store and the embedder are shared by all requests.
    _retrieval_lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    gate: GenerationGate = field(init=False)
    rewriter: QueryRewriter | None = field(init=False)

    def __post_init__(self) -> None:
        self.rewriter = QueryRewriter.from_settings(self.settings)
        api = self.settings.api
        self.gate = GenerationGate(
            lambda: self.model_id,  # the model serving now (hot reload swaps it)
            slots=api.generation_slots,
            depth=api.generation_queue_depth,
            max_wait=api.generation_queue_wait,
        )

    def cancellation(self) -> Cancellation:
        """A new request's cancellation, with the ``API_GENERATION_DEADLINE`` deadline."""
        return Cancellation(self.settings.api.generation_deadline)

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
        instructions: str | None = None,
        task: PromptTask = ASK,
    ) -> Prepared:
        """Check the question, retrieve passages and build the prompt.

        With ``use_cache`` and a cached answer for the same question, filters, history, model
        and parameters, retrieval is skipped: :meth:`cached` then returns that answer. A
        follow-up is searched as the standalone query built from ``history``; when the best
        passage is below ``RAG_ABSTAIN_THRESHOLD`` the request abstains (:meth:`cached` returns
        the twin's "I haven't written about that" with the nearest sources).

        Args:
            query: The question (or write mode's topic).
            endpoint: Where the request came from (recorded in the trace).
            k: Passages to retrieve (default ``RAG_TOP_K``).
            author: Restrict sources to this author.
            categories: Restrict sources to these categories.
            history: Earlier turns of the conversation (``role``/``content``).
            params: Generation parameters (default: the ``LLM_*`` settings).
            use_cache: Look the answer up in the response cache.
            published_after: Restrict sources to those published on or after this day
                (undated ones kept).
            published_before: Restrict sources to those published on or before this day
                (undated ones kept).
            instructions: The client's own system prompt, appended after the twin's.
            task: What to do with the passages: answer (default) or draft (write mode).

        Raises:
            InvalidInput: bad question, k, author, category or system prompt (nothing is
                generated).
            StoreUnavailable: the retriever is not loaded.
        """
        started = time.perf_counter()
        trace: dict[str, Any] = {
            "trace_id": new_trace_id(),
            "endpoint": endpoint,
            # Bounded: a rejected oversized question must not fill the disk.
            "query": query[: self.settings.api.max_query_chars],
            "filters": {"k": k, "author": author, "categories": categories},
            "task": task.options(),
        }
        dates = _date_filters(published_after, published_before)
        trace["filters"] |= {name: str(value) for name, value in dates.items()}
        filters = {"author": author, "categories": categories, **dates}
        params = params or GenerationParams.from_settings(self.settings)
        try:
            query = check_query(query, self.settings.api.max_query_chars)
            instructions = check_instructions(instructions, self.settings.api.max_query_chars)
            trace["injection_flags"] = injection_flags(f"{query}\n{instructions or ''}")
            request = PromptRequest(query, history, task, instructions)
            cache_key = self._cache_key(request, k, filters, params)
            hit = self.cache.get(cache_key) if use_cache else None
            if hit is not None:
                trace |= {"sources": _records(hit.sources), "params": vars(params)}
                return Prepared(trace, [], hit.sources, params, cache_key, started, 0.0, hit)
            search = self._standalone(trace, query, history)
            chunks, retrieval_ms = self._retrieve(trace, search, k, filters)
        except LLMTwinError as error:
            self.finish_error(trace, started, error)
            raise
        return self._prompt(trace, request, chunks, params, cache_key, started, retrieval_ms)

    def _cache_key(
        self,
        request: PromptRequest,
        k: int | None,
        filters: Mapping[str, object],
        params: GenerationParams,
    ) -> str:
        """The response-cache key of a request (arguments as in :meth:`prepare`)."""
        return ResponseCache.key(
            query=request.query,
            k=k,
            **filters,
            history=list(request.history),
            model=self.model_id,
            params=vars(params),
            task=request.task.options(),
            instructions=request.instructions,
        )

    def _standalone(
        self, trace: dict[str, Any], query: str, history: Sequence[Mapping[str, str]]
    ) -> str:
        """What retrieval searches for ``query`` after ``history`` (noted in ``trace`` when it
        differs from the question).

        Args:
            trace: The request's trace.
            query: The checked question.
            history: Earlier turns.
        """
        if self.rewriter is None or not history:
            return query
        directory = getattr(self.retriever, "directory", None)
        search, method = self.rewriter.rewrite(query, history, directory)
        trace["standalone_query"] = {"query": search, "method": method}
        return search

    def _retrieve(
        self,
        trace: dict[str, Any],
        query: str,
        k: int | None,
        filters: Mapping[str, object],
    ) -> tuple[list["RetrievedChunk"], float]:
        """The passages for ``query`` and the retrieval time (ms); notes the filters that
        self-query read from the question in ``trace``.

        Args:
            trace: The request's trace.
            query: The checked question.
            k: Passages to retrieve.
            filters: The retriever's filter arguments (author, categories and the set dates).
        """
        if self.retriever is None:
            raise StoreUnavailable("the retriever is not loaded (see GET /ready)")
        trace["filters"]["extracted"] = self._extracted_filters(query)
        retrieval_started = time.perf_counter()
        with self._retrieval_lock:
            chunks = self.retriever.search(query, k=k, **filters)
        return chunks, elapsed_ms(retrieval_started)

    def _prompt(
        self,
        trace: dict[str, Any],
        request: PromptRequest,
        chunks: list["RetrievedChunk"],
        params: GenerationParams,
        cache_key: str,
        started: float,
        retrieval_ms: float,
    ) -> Prepared:
        """The request with its prompt built from ``chunks`` (arguments as in :meth:`prepare`),
        or its abstention when the best passage is below ``RAG_ABSTAIN_THRESHOLD``."""
        from llm_twin.application.rag import to_context

        context = to_context(chunks, max_chars=self.settings.llm.context_chars)
        budget = self.settings.llm.history_tokens
        history = recent_turns(request.history, budget, token_counter(self.llm))
        messages = request.task.messages(request.query, context, history, request.instructions)
        sources = _sources(chunks)
        threshold = self.settings.rag.abstain_threshold
        abstained = should_abstain(chunks, threshold)
        trace |= {
            "sources": _records(sources),
            "prompt": messages,
            "params": vars(params),
            "relevance": relevance(chunks),
            "abstained": abstained,
        }
        prepared = Prepared(trace, messages, sources, params, cache_key, started, retrieval_ms)
        if abstained:
            prepared.abstention = request.task.abstention(request.query, sources)
        return prepared

    def _extracted_filters(self, query: str) -> dict[str, list[str]] | None:
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
    def cached(self, prepared: Prepared) -> Answer | None:
        """The answer that needs no generation (traced): the cached one :meth:`prepare` found,
        or the abstention when nothing relevant was retrieved; else ``None``."""
        if prepared.hit is None and prepared.abstention is not None:
            return self._finish(prepared, prepared.abstention, ABSTAINED, 0.0, cache=False)
        if prepared.hit is None:
            return None
        latency = Latency(
            retrieval=prepared.retrieval_ms, generation=0.0, total=elapsed_ms(prepared.started)
        )
        result = prepared.hit.model_copy(
            update={"cached": True, "trace_id": prepared.trace_id, "latency_ms": latency}
        )
        prepared.trace |= {
            "answer": result.answer,
            "usage": result.usage.model_dump(),
            "latency_ms": latency.as_record(),
            "model": result.model,
            "cached": True,
        }
        self.traces.record(prepared.trace)
        return result

    def _llm(self) -> LLMBackend:
        if self.llm is None:
            raise LLMUnavailable("no LLM backend is loaded (see GET /ready)")
        return self.llm

    def answer(self, prepared: Prepared, cancellation: Cancellation | None = None) -> Answer:
        """The whole answer (from the cache when possible), traced.

        Generation waits for a slot of the model's queue and stops as soon as ``cancellation``
        fires (client gone, deadline passed); a request refused or cancelled while queued
        generates nothing.

        Args:
            prepared: The request.
            cancellation: Cancels the request (default: one with the configured deadline).

        Raises:
            Overloaded: the model's queue is full (nothing generated).
            RequestCancelled: cancelled before the answer was complete.
            LLMUnavailable, LLMTimeout, LLMError: generation failed (traced too).
        """
        cached = self.cached(prepared)
        if cached is not None:
            return cached
        cancellation = cancellation or self.cancellation()
        generation_started = time.perf_counter()
        try:
            with self.gate.slot(cancellation):
                stream = self._llm().stream(prepared.messages, prepared.params)
                cancellation.on_cancel(stream.close)
                try:
                    text = "".join(stream)
                finally:
                    stream.close()
            cancellation.check()
        except LLMTwinError as error:
            self.finish_error(prepared.trace, prepared.started, error)
            raise
        finally:
            cancellation.done()
        generation_ms = elapsed_ms(generation_started)
        return self._finish(prepared, mask_pii(text), stream, generation_ms)

    def sources_only(self, prepared: Prepared) -> Answer:
        """The sources without an answer (no generation, not cached), traced."""
        return self._finish(prepared, "", NOTHING_GENERATED, 0.0, cache=False)

    def open_stream(
        self, prepared: Prepared, cancellation: Cancellation | None = None
    ) -> "AnswerStream":
        """Start a streamed answer; failing to start raises here (traced), before any event.

        The stream holds a slot of the model's queue until :meth:`AnswerStream.finish`.

        Args:
            prepared: The request.
            cancellation: Cancels the request (default: one with the configured deadline).

        Raises:
            Overloaded: the model's queue is full (nothing generated).
            RequestCancelled, LLMUnavailable, LLMTimeout, LLMError: it could not start.
        """
        started = time.perf_counter()
        cancellation = cancellation or self.cancellation()
        release = None
        try:
            release = self.gate.enter(cancellation)
            stream = self._llm().stream(prepared.messages, prepared.params)
            cancellation.on_cancel(stream.close)
            stream.prime()
            cancellation.check()
        except LLMTwinError as error:
            if release is not None:
                release()
            cancellation.done()
            self.finish_error(prepared.trace, prepared.started, error)
            raise
        return AnswerStream(self, prepared, stream, started, (cancellation, release))

    def _finish(
        self,
        prepared: Prepared,
        text: str,
        generated: Completion | TokenStream,
        generation_ms: float,
        *,
        ttft_ms: float | None = None,
        error: Exception | None = None,
        cache: bool = True,
    ) -> Answer:
        """Record the trace of a finished request, cache its answer and return it.

        Args:
            prepared: The request.
            text: The (masked) answer.
            generated: What the LLM reported: token counts, model, backend, attempts.
            generation_ms: Generation time.
            ttft_ms: Time to the first streamed delta (streamed answers).
            error: Why a streamed answer stopped early (then it is not cached).
            cache: Whether a successful answer may be cached.
        """
        latency = Latency(
            retrieval=prepared.retrieval_ms,
            generation=generation_ms,
            total=elapsed_ms(prepared.started),
            ttft=ttft_ms,
        )
        result = Answer(
            answer=text,
            sources=prepared.sources,
            usage=Usage(
                prompt_tokens=generated.prompt_tokens,
                completion_tokens=generated.completion_tokens,
            ),
            latency_ms=latency,
            trace_id=prepared.trace_id,
            model=generated.model,
            finish_reason=generated.finish_reason if error is None else "error",
            abstained=prepared.abstention is not None,
        )
        prepared.trace |= {
            "answer": text,
            "usage": result.usage.model_dump(),
            "latency_ms": latency.as_record(),
            "model": result.model,
            "backend": generated.backend,
            "attempts": generated.attempts,
            "finish_reason": result.finish_reason,
            "cached": False,
            "error": _error_record(error),
        }
        self.traces.record(prepared.trace)
        if error is None and cache:
            self.cache.put(prepared.cache_key, result)
        return result

    def finish_error(self, trace: dict[str, Any], started: float, error: Exception) -> None:
        """Record a trace for a request that failed with ``error``.

        Args:
            trace: The request's trace so far.
            started: ``time.perf_counter()`` at the start of the request.
            error: The failure.
        """
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
        admission: The request's cancellation and the function that frees its queue slot.
    """

    def __init__(
        self,
        service: TwinService,
        prepared: Prepared,
        stream: TokenStream,
        started: float,
        admission: tuple[Cancellation, Callable[[], None]],
    ) -> None:
        self.service = service
        self.prepared = prepared
        self.stream = stream
        self.started = started
        self.cancellation, self._release = admission
        self.ttft_ms: float | None = None
        self.parts: list[str] = []

    def deltas(self) -> Iterator[str]:
        """Masked text deltas (blocking; iterate in a thread)."""
        for delta in mask_stream(self.stream):
            if self.ttft_ms is None:
                self.ttft_ms = elapsed_ms(self.prepared.started)
            self.parts.append(delta)
            yield delta
        self.cancellation.check()

    def finish(self, error: Exception | None = None) -> Answer:
        """Stop generation, record the trace and return the final answer.

        Args:
            error: Why the stream ended early (a failure, or the client leaving), if it did.
        """
        self.stream.close()
        self._release()
        self.cancellation.done()
        return self.service._finish(
            self.prepared,
            "".join(self.parts),
            self.stream,
            elapsed_ms(self.started),
            ttft_ms=self.ttft_ms,
            error=error,
        )


def _error_record(error: Exception | None) -> dict[str, str] | None:
    """How a trace records ``error``: the project's own messages, else only the error type
    (a foreign message may carry internals)."""
    if error is None:
        return None
    message = str(error) if isinstance(error, LLMTwinError) else type(error).__name__
    return {"type": type(error).__name__, "message": message}


def _date_filters(after: dt.date | None, before: dt.date | None) -> dict[str, dt.date]:
    """The retriever's date arguments that are set (only those are passed on, so a retriever
    without date filters keeps working)."""
    dates = {"published_after": after, "published_before": before}
    return {name: value for name, value in dates.items() if value is not None}
