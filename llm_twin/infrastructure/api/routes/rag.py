"""``POST /rag``: ask the twin; the whole answer as JSON, or streamed as server-sent events
(``sources``, then ``token`` events, then ``done`` or ``error``). With ``history``, a follow-up
is searched as the standalone query built from the conversation."""

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from llm_twin.application.inference import Answer, Prepared
from llm_twin.application.inference.admission import check_max_tokens
from llm_twin.infrastructure.api.cancel import run_cancellable
from llm_twin.infrastructure.api.deps import AppSettings, Client, Service
from llm_twin.infrastructure.api.errors import ERRORS, error_event_body
from llm_twin.infrastructure.api.schemas import RagRequest, RagResponse
from llm_twin.infrastructure.api.sse import sse_event, stream_answer
from llm_twin.infrastructure.llm.base import GenerationParams

router = APIRouter()


class RagEvents:
    """The ``/rag`` stream: named events ``sources``, ``token``, ``done`` and ``error``."""

    def opening(self, prepared: Prepared) -> str:
        sources = [source.model_dump() for source in prepared.sources]
        return sse_event({"sources": sources, "trace_id": prepared.trace_id}, "sources")

    def delta(self, text: str) -> str:
        return sse_event({"text": text}, "token")

    def done(self, answer: Answer) -> str:
        summary = {
            "answer": answer.answer,
            "usage": answer.usage.model_dump(),
            "latency_ms": answer.latency_ms.as_record(),
            "model": answer.model,
            "trace_id": answer.trace_id,
            "cached": answer.cached,
            "abstained": answer.abstained,
        }
        return sse_event(summary, "done")

    def error(self, error: Exception) -> str:
        return sse_event(error_event_body(error), "error")

    def closing(self) -> str:
        return ""


@router.post("/rag", response_model=RagResponse, responses=ERRORS, summary="Ask the twin")
async def rag(
    body: RagRequest, service: Service, settings: AppSettings, client: Client, request: Request
) -> Answer | StreamingResponse:
    check_max_tokens(body.max_tokens, settings.llm.max_tokens_limit, "max_tokens")
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
            history=[turn.model_dump() for turn in body.history],
        )
    )
    if body.retrieval_only:
        return await run_in_threadpool(service.sources_only, prepared)
    if not body.stream:
        cancellation = service.cancellation()
        return await run_cancellable(
            request, cancellation, lambda: service.answer(prepared, cancellation)
        )
    return await stream_answer(service, prepared, RagEvents(), request)
