"""Server-sent events of a streamed answer, shared by ``/rag`` and ``/v1/chat/completions``:
the cache, the token stream, errors after the first event and client disconnects are handled
here once; each endpoint only says how its events look (:class:`AnswerEvents`)."""

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Protocol, cast

import anyio.to_thread
from fastapi import Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from llm_twin.application.inference import Answer, AnswerStream, Prepared, TwinService
from llm_twin.domain.exceptions import LLMTwinError
from llm_twin.infrastructure.api.cancel import run_cancellable


def sse_event(data: object, event: str | None = None) -> str:
    """One server-sent event carrying ``data`` as JSON.

    Args:
        data: A JSON-ready value.
        event: The event name (none: a plain ``data:`` event).
    """
    prefix = f"event: {event}\n" if event else ""
    return f"{prefix}data: {json.dumps(data, ensure_ascii=False)}\n\n"


class AnswerEvents(Protocol):
    """How one endpoint writes a streamed answer: every method returns SSE text."""

    def opening(self, prepared: Prepared) -> str:
        """The first event, before any text (sources, trace id)."""
        ...

    def delta(self, text: str) -> str:
        """A piece of the answer (the whole answer when it comes from the cache)."""
        ...

    def done(self, answer: Answer) -> str:
        """The events after a complete answer."""
        ...

    def error(self, error: Exception) -> str:
        """The event of a failure after the stream started."""
        ...

    def closing(self) -> str:
        """The end-of-stream marker after everything else ("" for none)."""
        ...


async def stream_answer(
    service: TwinService, prepared: Prepared, events: AnswerEvents, request: Request
) -> StreamingResponse:
    """Stream the answer to ``prepared`` as ``events``: the cached one when there is one, else
    generated. A generation that fails to start raises here, before any event (so the client
    gets an error status); a failure later becomes an error event.

    Args:
        service: The answering service.
        prepared: The prepared request.
        events: The endpoint's event format.
        request: The HTTP request (a client leaving while queued cancels it).
    """
    cached = await run_in_threadpool(service.cached, prepared)
    source: Answer | AnswerStream
    if cached is not None:
        source = cached
    else:
        cancellation = service.cancellation()
        source = await run_cancellable(
            request, cancellation, lambda: service.open_stream(prepared, cancellation)
        )
    return StreamingResponse(_events(prepared, source, events), media_type="text/event-stream")


async def _events(
    prepared: Prepared, source: Answer | AnswerStream, events: AnswerEvents
) -> AsyncIterator[str]:
    # One flat generator: a client disconnect must reach the except clause below.
    yield events.opening(prepared)
    if isinstance(source, Answer):
        yield events.delta(source.answer)
        yield events.done(source)
    else:
        error: LLMTwinError | None = None
        try:
            async for delta in _abandonable(source.deltas()):
                yield events.delta(delta)
        except LLMTwinError as failure:
            error = failure
        except (asyncio.CancelledError, GeneratorExit):
            # The client went away: stop generating and keep the partial answer's trace.
            source.finish(ConnectionAbortedError("client disconnected"))
            raise
        result = await run_in_threadpool(source.finish, error)
        yield events.done(result) if error is None else events.error(error)
    closing = events.closing()
    if closing:
        yield closing


async def _abandonable(deltas: Iterator[str]) -> AsyncIterator[str]:
    """``deltas``, each waited for in a worker thread that a client disconnect abandons at once
    (the caller then closes the stream, which ends the thread); a plain threadpool wait could
    only be cancelled after the next token, so a stalled generation would run on."""
    end = object()
    while True:
        delta = await anyio.to_thread.run_sync(next, deltas, end, abandon_on_cancel=True)
        if delta is end:
            return
        yield cast(str, delta)
