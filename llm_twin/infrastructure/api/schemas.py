"""Request and response bodies of the inference API (they make its OpenAPI schema); the
answer's parts are the use case's own models."""

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from llm_twin.application.inference.models import AnswerSource, Usage


class Source(AnswerSource):
    """A source document an answer is based on."""


class RagLatency(BaseModel):
    retrieval: float = Field(description="Retrieval time, ms")
    generation: float = Field(description="Generation time, ms")
    total: float = Field(description="Whole request, ms")


class Turn(BaseModel):
    """An earlier turn of a conversation."""

    role: Literal["user", "assistant"]
    content: str = Field(max_length=20000)


#: Write mode's formats and lengths (see ``domain/prompts.py`` for each format's conventions).
DraftFormat = Literal["linkedin_post", "article_section", "thread", "newsletter"]
DraftLength = Literal["short", "medium", "long"]


class RagRequest(BaseModel):
    """A question to the twin."""

    query: str = Field(description="The question", min_length=1)
    k: int | None = Field(default=None, ge=1, le=20, description="Passages to retrieve")
    author: str | None = Field(default=None, description="Restrict sources to this author")
    categories: list[str] | None = Field(
        default=None, description="Restrict sources to these categories (articles, posts, code)"
    )
    published_after: dt.date | None = Field(
        default=None, description="Only sources published on/after this day (undated kept)"
    )
    published_before: dt.date | None = Field(
        default=None, description="Only sources published on/before this day (undated kept)"
    )
    stream: bool = Field(
        default=False,
        description="Stream as server-sent events: `sources`, then `token` events, then `done`",
    )
    max_tokens: int | None = Field(default=None, ge=1, le=4096)
    temperature: float | None = Field(default=None, ge=0, le=2)
    retrieval_only: bool = Field(
        default=False, description="Only retrieve: empty answer, the sources and their latency"
    )
    history: list[Turn] = Field(
        default_factory=list,
        max_length=200,
        description="Earlier turns of the conversation, oldest first: a follow-up is searched "
        "as a standalone query built from them, and they go into the prompt (newest first, "
        "within LLM_HISTORY_TOKENS)",
    )


class RagResponse(BaseModel):
    answer: str
    sources: list[Source]
    usage: Usage
    latency_ms: RagLatency
    trace_id: str
    model: str
    cached: bool = False
    abstained: bool = Field(
        default=False,
        description="Nothing retrieved was relevant enough (RAG_ABSTAIN_THRESHOLD): the answer "
        "says the twin has not written about it and names the nearest sources; nothing generated",
    )


class WriteRequest(BaseModel):
    """A draft to write in the author's voice."""

    topic: str = Field(min_length=1, description="What to write about")
    format: DraftFormat = Field(default="linkedin_post", description="The kind of draft")
    length: DraftLength = Field(default="medium", description="Target length")
    author: str | None = Field(
        default=None, description="Write as this author (their passages only)"
    )
    instructions: str | None = Field(
        default=None,
        description="Your own system prompt, appended after the twin's (never replacing it)",
    )
    k: int | None = Field(default=None, ge=1, le=20, description="Passages to draw on")
    max_tokens: int | None = Field(default=None, ge=1, le=4096)
    temperature: float | None = Field(default=None, ge=0, le=2)


class WriteResponse(BaseModel):
    """A draft with the passages it drew on."""

    draft: str = Field(description="The draft, in the format's structure")
    format: DraftFormat
    sources: list[Source] = Field(description="The author's documents it drew on, best first")
    usage: Usage
    latency_ms: RagLatency
    trace_id: str
    model: str
    abstained: bool = Field(
        default=False,
        description="The author never wrote about the topic: no draft, the nearest sources",
    )


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        """The message's text (text parts joined when the content is a list of parts)."""
        if isinstance(self.content, list):
            return "".join(str(part.get("text", "")) for part in self.content)
        return self.content or ""


class ChatCompletionRequest(BaseModel):
    """OpenAI chat completion request; unknown OpenAI fields are accepted and ignored.

    Retrieval augments the last user message (a follow-up is searched as a standalone query
    built from the conversation). System messages are appended after the twin's own system
    prompt. Extensions: ``k``, ``author``, ``mode`` (``write``: the last message is a topic to
    draft on, in ``format`` and ``length``).
    """

    model_config = ConfigDict(extra="allow")

    model: str | None = None
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    max_tokens: int | None = Field(default=None, ge=1, le=4096)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=4096)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    k: int | None = Field(default=None, ge=1, le=20, description="Extension: passages")
    author: str | None = Field(default=None, description="Extension: restrict to an author")
    mode: Literal["ask", "write"] = Field(
        default="ask",
        description="Extension: `ask` answers the last message; `write` drafts new content on it",
    )
    format: DraftFormat = Field(default="linkedin_post", description="Extension: write mode")
    length: DraftLength = Field(default="medium", description="Extension: write mode")


class ChatChoice(BaseModel):
    index: int
    message: dict[str, str]
    finish_reason: str


class ChatUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletionResponse(BaseModel):
    """OpenAI chat completion, plus the extension fields ``sources`` and ``trace_id``."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: ChatUsage
    sources: list[Source] = Field(description="Extension: the documents the answer used")
    trace_id: str = Field(description="Extension: id for POST /feedback")
    abstained: bool = Field(
        default=False, description="Extension: nothing relevant retrieved, nothing generated"
    )


class FeedbackRequest(BaseModel):
    trace_id: str = Field(min_length=1, max_length=64)
    rating: Literal["up", "down"]
    correction: str | None = Field(
        default=None, max_length=8000, description="A better answer (becomes a preference pair)"
    )


class FeedbackResponse(BaseModel):
    trace_id: str
    rating: str
    stored: bool = True


class ErrorBody(BaseModel):
    message: str
    type: str
    code: int


class ErrorResponse(BaseModel):
    error: ErrorBody
