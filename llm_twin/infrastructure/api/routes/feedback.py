"""Feedback on an answer: a rating, and a correction that becomes a preference pair."""

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from llm_twin.infrastructure.api.deps import Client, Service
from llm_twin.infrastructure.api.schemas import ErrorResponse, FeedbackRequest, FeedbackResponse

router = APIRouter()


@router.post(
    "/feedback",
    response_model=FeedbackResponse,
    responses={404: {"model": ErrorResponse}, 422: {"model": ErrorResponse}},
    summary="Rate an answer; a correction becomes a preference pair",
)
async def feedback(body: FeedbackRequest, service: Service, client: Client) -> FeedbackResponse:
    correction = body.correction.strip() if body.correction else None
    try:
        await run_in_threadpool(
            service.traces.record_feedback, body.trace_id, body.rating, correction or None
        )
    except KeyError:
        raise StarletteHTTPException(404, f"no trace with id {body.trace_id!r}") from None
    return FeedbackResponse(trace_id=body.trace_id, rating=body.rating, stored=True)
