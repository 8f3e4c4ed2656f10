"""The RAG evaluation's configuration: one validated object built from a ``parameters`` block.

Unknown keys and bad values fail at once with a message naming the field (``extra="forbid"``),
before any model or store is opened.
"""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from llm_twin.domain.exceptions import InvalidInput


class RagEvaluationConfig(BaseModel):
    """What the RAG evaluation measures and how.

    Attributes:
        generated: Evaluate on the questions generated from held-out documents: the ``test``
            split of the instruct dataset (its rows are instructions generated from extracts
            of documents kept out of training, each with the ``link`` of its source).
        dataset_version: Instruct dataset version to read (``latest`` or a saved version).
        max_generated: At most this many generated questions (a seeded sample spread over the
            split; 0: all).
        hide_titles: Replace the source document's title inside a generated question with
            "this topic": the offline ``keyphrase`` generator quotes the title, which would make
            finding the source trivial (the title is indexed with every chunk).
        questions_file: Optional JSONL file of user questions, one object per line:
            ``{"question": "...", "links": ["https://..."], "author": optional}`` (the format
            of ``bench/rag_dev_questions.jsonl``). Relative paths are read from the working
            directory, else from the project root.
        k: Chunks retrieved per question (``null``: ``RAG_TOP_K``).
        n_generation: Questions answered by the LLM and scored for faithfulness and relevance
            (a seeded sample of all questions; 0: retrieval only). Generation dominates the
            run time on CPU: keep it small there.
        max_tokens: Most tokens per generated answer.
        temperature: Sampling temperature of the answers (0: greedy, reproducible).
        judge: ``auto`` (judge LLM when one is configured: ``JUDGE_BASE_URL`` /
            ``JUDGE_MODEL_ID`` / ``JUDGE_API_KEY``, falling back to the ``OPENAI_*`` settings),
            ``on`` (require it) or ``off`` (offline proxies only).
        judge_retries: Re-asks after a judge reply that is not the requested JSON; after the
            last one the example counts as a judge failure (no score is made up).
        judge_max_tokens: Most tokens of one judge reply.
        relevance_questions: Questions the judge writes back from an answer; answer relevance
            is their mean cosine similarity to the real question (ragas-style).
        support_threshold: Offline faithfulness: an answer sentence is supported when its
            MiniLM cosine similarity to some context sentence reaches this value.
        seed: Seed of the question samples.
        max_misses: Retrieval misses listed in the result (questions whose expected source is
            not in the top ``k``).
    """

    model_config = ConfigDict(extra="forbid")

    generated: bool = True
    dataset_version: str = "latest"
    max_generated: int = Field(default=30, ge=0)
    hide_titles: bool = True
    questions_file: str | None = None
    k: int | None = Field(default=None, ge=1, le=100)
    n_generation: int = Field(default=3, ge=0)
    max_tokens: int = Field(default=96, ge=1, le=4096)
    temperature: float = Field(default=0.0, ge=0, le=2)
    judge: Literal["auto", "on", "off"] = "auto"
    judge_retries: int = Field(default=2, ge=0, le=10)
    judge_max_tokens: int = Field(default=768, ge=16)
    relevance_questions: int = Field(default=3, ge=1, le=10)
    support_threshold: float = Field(default=0.6, ge=0, le=1)
    seed: int = Field(default=42, ge=0)
    max_misses: int = Field(default=5, ge=0)

    @field_validator("dataset_version")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    @field_validator("judge", mode="before")
    @classmethod
    def _yaml_booleans(cls, value: object) -> object:
        # YAML reads an unquoted on/off as a boolean.
        if isinstance(value, bool):
            return "on" if value else "off"
        return value

    @field_validator("questions_file")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None


def parse_config(values: dict[str, Any] | None) -> RagEvaluationConfig:
    """Validate ``values`` (a YAML ``parameters`` block or plain dict).

    Raises:
        InvalidInput: naming every wrong field (``n_generation: ...``) and why.
    """
    if isinstance(values, RagEvaluationConfig):
        return values
    try:
        return RagEvaluationConfig.model_validate(values or {})
    except ValidationError as error:
        problems = []
        for item in error.errors():
            where = ".".join(str(part) for part in item["loc"]) or "config"
            problems.append(f"{where}: {item['msg']}")
        raise InvalidInput("invalid RAG evaluation config: " + "; ".join(problems)) from None
