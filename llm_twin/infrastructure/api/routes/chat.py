"""The OpenAI-compatible API: ``GET /v1/models`` and ``POST /v1/chat/completions`` (whole or
streamed as ``chat.completion.chunk`` events ending with ``data: [DONE]``). Responses carry the
extension fields ``sources``, ``trace_id`` and ``abstained`` (in the first chunk when
streaming, ``abstained`` in the last).

The conversation's system messages are the client's instructions, appended after the twin's
own system prompt. The extension field ``mode: "write"`` (with ``format`` and ``length``) makes
the last user message a topic to draft on, as ``POST /write`` does; the draft is shaped to its
format in whole responses (streamed deltas are the model's text as it comes)."""

import time
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from llm_twin.application.inference import Answer, Prepared, Usage
from llm_twin.application.inference.admission import check_max_tokens
from llm_twin.application.inference.tasks import ASK, PromptTask
from llm_twin.application.inference.writing import DraftTask, finish_draft
from llm_twin.domain.exceptions import InvalidInput
from llm_twin.infrastructure.api.cancel import run_cancellable
from llm_twin.infrastructure.api.deps import AppSettings, Client, Service, StartedAt
from llm_twin.infrastructure.api.errors import ERRORS, error_event_body
from llm_twin.infrastructure.api.schemas import (
    ChatChoice,
    ChatCompletionRequest,
    ChatCompletionResponse,
    ChatUsage,
    Source,
)
from llm_twin.infrastructure.api.sse import sse_event, stream_answer
from llm_twin.infrastructure.llm.base import GenerationParams

#: The model id the OpenAI-compatible API serves.
SERVED_MODEL = "llm-twin"

router = APIRouter()


@router.get("/v1/models", summary="OpenAI-compatible model list")
async def models(service: Service, client: Client, started_at: StartedAt) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {
                "id": SERVED_MODEL,
                "object": "model",
                "created": int(started_at),
                "owned_by": "llm-twin",
                "backend_model": service.model_id,
            }
        ],
    }


def _usage(usage: Usage) -> ChatUsage:
    return ChatUsage(
        **usage.model_dump(), total_tokens=usage.prompt_tokens + usage.completion_tokens
    )


@dataclass(frozen=True)
class ChatEvents:
    """The streamed completion: ``chat.completion.chunk`` events, then ``[DONE]``.

    Attributes:
        completion_id: The completion's id (``chatcmpl-<trace id>``).
        created: When the request came (epoch seconds).
        model: The model id the client asked for.
    """

    completion_id: str
    created: int
    model: str

    def _chunk(self, choices: list[dict[str, object]], **extra: object) -> str:
        header = {"id": self.completion_id, "object": "chat.completion.chunk"}
        return sse_event(
            {**header, "created": self.created, "model": self.model, "choices": choices, **extra}
        )

    def _delta(self, delta: dict[str, str], finish: str | None = None, **extra: object) -> str:
        return self._chunk([{"index": 0, "delta": delta, "finish_reason": finish}], **extra)

    def opening(self, prepared: Prepared) -> str:
        sources = [source.model_dump() for source in prepared.sources]
        role = {"role": "assistant", "content": ""}
        return self._delta(role, sources=sources, trace_id=prepared.trace_id)

    def delta(self, text: str) -> str:
        return self._delta({"content": text})

    def done(self, answer: Answer) -> str:
        usage = _usage(answer.usage).model_dump()
        return self._delta({}, _finish_reason(answer)) + self._chunk(
            [], usage=usage, abstained=answer.abstained
        )

    def error(self, error: Exception) -> str:
        return sse_event(error_event_body(error))

    def closing(self) -> str:
        return "data: [DONE]\n\n"


def _finish_reason(answer: Answer) -> str:
    """OpenAI's finish reason: a cached answer or an abstention ends with ``stop`` (whatever
    ended the original generation; nothing was generated)."""
    return "stop" if answer.cached or answer.abstained else answer.finish_reason


def _instructions(body: ChatCompletionRequest) -> str | None:
    """The client's system (and developer) messages, joined: its instructions to the twin."""
    texts = [m.text() for m in body.messages if m.role in ("system", "developer")]
    return "\n\n".join(text for text in texts if text.strip()) or None


def _task(body: ChatCompletionRequest) -> PromptTask:
    return DraftTask.of(body.format, body.length) if body.mode == "write" else ASK


def _history(body: ChatCompletionRequest) -> list[dict[str, str]]:
    """The conversation before the last message (user and assistant turns only)."""
    return [
        {"role": message.role, "content": message.text()}
        for message in body.messages[:-1]
        if message.role in ("user", "assistant")
    ]


@router.post(
    "/v1/chat/completions",
    response_model=ChatCompletionResponse,
    responses=ERRORS,
    summary="OpenAI-compatible chat completion (retrieval-augmented)",
)
async def chat_completions(
    body: ChatCompletionRequest,
    service: Service,
    settings: AppSettings,
    client: Client,
    request: Request,
) -> ChatCompletionResponse | StreamingResponse:
    last = body.messages[-1]
    if last.role != "user":
        raise InvalidInput("the last message must have role 'user'")
    limit = settings.llm.max_tokens_limit
    check_max_tokens(body.max_tokens, limit, "max_tokens")
    check_max_tokens(body.max_completion_tokens, limit, "max_completion_tokens")
    task = _task(body)
    default_tokens = task.max_new_tokens(limit) if isinstance(task, DraftTask) else None
    params = GenerationParams.from_settings(
        settings,
        max_new_tokens=body.max_completion_tokens or body.max_tokens or default_tokens,
        temperature=body.temperature,
        top_p=body.top_p,
    )
    prepared = await run_in_threadpool(
        lambda: service.prepare(
            last.text(),
            endpoint="/v1/chat/completions",
            k=body.k,
            author=body.author,
            history=_history(body),
            params=params,
            instructions=_instructions(body),
            task=task,
        )
    )
    events = ChatEvents(
        f"chatcmpl-{prepared.trace_id}", int(time.time()), body.model or SERVED_MODEL
    )
    if body.stream:
        return await stream_answer(service, prepared, events, request)
    cancellation = service.cancellation()
    answer = await run_cancellable(
        request, cancellation, lambda: service.answer(prepared, cancellation)
    )
    if isinstance(task, DraftTask):
        answer = finish_draft(answer, task, last.text(), body.author)
    return ChatCompletionResponse(
        id=events.completion_id,
        created=events.created,
        model=events.model,
        choices=[
            ChatChoice(
                index=0,
                message={"role": "assistant", "content": answer.answer},
                finish_reason=_finish_reason(answer),
            )
        ],
        usage=_usage(answer.usage),
        sources=[Source(**source.model_dump()) for source in answer.sources],
        trace_id=prepared.trace_id,
        abstained=answer.abstained,
    )
