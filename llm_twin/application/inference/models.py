"""What the answering use case returns: an answer with its sources, token usage and latency."""

from pydantic import BaseModel, Field


class AnswerSource(BaseModel):
    """A source document an answer is based on."""

    title: str | None = Field(description="Title of the document (null for untitled posts)")
    link: str = Field(description="URL of the document")
    author: str = Field(description="The document's author")
    score: float = Field(description="Relevance of its best passage (comparable within a list)")


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int


class Latency(BaseModel):
    """Where the time of one request went, in milliseconds.

    Attributes:
        retrieval: Retrieval time.
        generation: Generation time.
        total: The whole request.
        ttft: Time to the first streamed delta (streamed answers only).
    """

    retrieval: float
    generation: float
    total: float
    ttft: float | None = None

    def as_record(self) -> dict[str, float]:
        """The JSON form of traces and stream events (``ttft`` only when measured)."""
        return self.model_dump(exclude_none=True)


class Answer(BaseModel):
    """The twin's answer to one request.

    Attributes:
        answer: The text (PII-masked; empty for retrieval-only requests).
        sources: The documents it is based on, one per link, best first.
        usage: Prompt and completion tokens.
        latency_ms: Timings of the request.
        trace_id: Id of the request's trace (for feedback).
        model: Id of the model that answered (``none`` when nothing was generated).
        finish_reason: ``stop``, ``length``, ``error`` or ``retrieval_only``.
        cached: Whether it was served from the response cache.
        abstained: Whether the twin abstained: nothing it wrote was relevant enough, so it
            said so (with the nearest sources) instead of generating.
    """

    answer: str
    sources: list[AnswerSource]
    usage: Usage
    latency_ms: Latency
    trace_id: str
    model: str
    finish_reason: str
    cached: bool = False
    abstained: bool = False
