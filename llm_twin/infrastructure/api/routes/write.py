"""``POST /write``: draft new content in the author's voice (write mode), with the passages it
drew on. It goes through the same admission control, cache and traces as ``/rag``."""

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from llm_twin.application.inference.admission import check_max_tokens
from llm_twin.application.inference.writing import DraftTask, finish_draft
from llm_twin.infrastructure.api.cancel import run_cancellable
from llm_twin.infrastructure.api.deps import AppSettings, Client, Service
from llm_twin.infrastructure.api.errors import ERRORS
from llm_twin.infrastructure.api.schemas import RagLatency, Source, WriteRequest, WriteResponse
from llm_twin.infrastructure.llm.base import GenerationParams

router = APIRouter()


@router.post(
    "/write",
    response_model=WriteResponse,
    responses=ERRORS,
    summary="Draft a LinkedIn post, article section, thread or newsletter in the author's voice",
)
async def write(
    body: WriteRequest, service: Service, settings: AppSettings, client: Client, request: Request
) -> WriteResponse:
    limit = settings.llm.max_tokens_limit
    check_max_tokens(body.max_tokens, limit, "max_tokens")
    task = DraftTask.of(body.format, body.length)
    params = GenerationParams.from_settings(
        settings,
        max_new_tokens=body.max_tokens or task.max_new_tokens(limit),
        temperature=body.temperature,
    )
    prepared = await run_in_threadpool(
        lambda: service.prepare(
            body.topic,
            endpoint="/write",
            k=body.k,
            author=body.author,
            params=params,
            instructions=body.instructions,
            task=task,
        )
    )
    cancellation = service.cancellation()
    answer = await run_cancellable(
        request, cancellation, lambda: service.answer(prepared, cancellation)
    )
    draft = finish_draft(answer, task, body.topic, body.author)
    return WriteResponse(
        draft=draft.answer,
        format=body.format,
        sources=[Source(**source.model_dump()) for source in draft.sources],
        usage=draft.usage,
        latency_ms=RagLatency(**draft.latency_ms.model_dump(exclude={"ttft"})),
        trace_id=draft.trace_id,
        model=draft.model,
        abstained=draft.abstained,
    )
