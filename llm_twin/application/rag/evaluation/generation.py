"""Scoring generated answers against the context they were generated from.

Two scorers with the same output (:class:`AnswerScore`):

- :class:`OfflineScorer` (no LLM): faithfulness = share of the answer's sentences whose best
  MiniLM cosine similarity to a context sentence reaches a threshold; answer relevance =
  cosine(question, answer); the sources used are the links of the passages holding the best
  match of a supported sentence.
- :class:`JudgeScorer` (ragas-style, an OpenAI-compatible judge LLM behind an
  :class:`~llm_twin.infrastructure.llm.base.LLMBackend`): the judge splits the
  answer into statements and says which numbered sources support each (faithfulness = share
  supported); for relevance it writes questions the answer would answer, and relevance is
  their mean MiniLM cosine to the real question. A reply that is not the requested JSON is
  re-asked a bounded number of times, then the example counts as a judge failure: no score
  is made up.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from loguru import logger
from pydantic import BaseModel, Field

from llm_twin.domain.exceptions import ImproperlyConfigured
from llm_twin.domain.vectors import Embedder
from llm_twin.infrastructure.llm.base import Completion, GenerationParams
from llm_twin.infrastructure.llm.factory import judge_backend
from llm_twin.infrastructure.llm.judge_endpoint import JudgeEndpoint, judge_endpoint
from llm_twin.infrastructure.llm.structured import MalformedReply, chat, complete_json
from llm_twin.settings import Settings

if TYPE_CHECKING:
    from llm_twin.application.rag.evaluation.config import RagEvaluationConfig

#: Answer sentences shorter than this many words ("[1]", "Sure!") are not statements.
MIN_STATEMENT_WORDS = 3


@dataclass(frozen=True)
class Passage:
    """One context passage as the answer saw it.

    Attributes:
        number: Its source number in the prompt (passages of one link share a number).
        link: The source document's link.
        text: The passage text.
    """

    number: int
    link: str
    text: str


@dataclass
class AnswerScore:
    """Scores of one answer (``None``: could not be scored, e.g. empty answer, judge failure).

    Attributes:
        faithfulness: Share of the answer's statements supported by the context, in [0, 1].
        answer_relevance: How well the answer addresses the question, in [0, 1].
        sources_used: Links of the passages that support at least one statement.
        statements: Statements scored.
        supported: Statements supported.
        detail: Per-statement verdicts (text, supported, source numbers or best similarity).
        failure: Why it could not be scored, if so.
    """

    faithfulness: float | None
    answer_relevance: float | None
    sources_used: list[str] = field(default_factory=list)
    statements: int = 0
    supported: int = 0
    detail: list[dict[str, Any]] = field(default_factory=list)
    failure: str | None = None


def sentences(text: str, min_words: int = 1) -> list[str]:
    """The sentences of ``text`` (the dataset extracts' splitter), each of at least
    ``min_words`` words."""
    from llm_twin.application.dataset.extracts import sentence_spans

    found = [" ".join(text[s:e].split()) for s, e in sentence_spans(text)]
    return [sentence for sentence in found if len(sentence.split()) >= min_words]


def _cosine_rows(embedder: Embedder, left: Sequence[str], right: Sequence[str]) -> Any:
    """Cosine similarity matrix ``len(left) x len(right)`` (the embedder normalises)."""
    import numpy as np

    vectors = np.asarray(embedder.embed([*left, *right]), dtype=float)
    return vectors[: len(left)] @ vectors[len(left) :].T


class OfflineScorer:
    """Embedding proxies of faithfulness and relevance (MiniLM, no LLM).

    Args:
        embedder: The dense embedder (``embed(texts)`` -> normalised vectors).
        threshold: Cosine similarity an answer sentence needs with a context sentence to count
            as supported.
    """

    mode = "offline"

    def __init__(self, embedder: Embedder, threshold: float = 0.6) -> None:
        self.embedder = embedder
        self.threshold = threshold

    def score(self, question: str, answer: str, passages: Sequence[Passage]) -> AnswerScore:
        """Score ``answer`` to ``question`` against ``passages``."""
        statements = sentences(answer, MIN_STATEMENT_WORDS)
        if not statements:
            return AnswerScore(None, None, failure="the answer has no statement to score")
        relevance = float(_cosine_rows(self.embedder, [question], [answer])[0, 0])
        context: list[tuple[str, Passage]] = [
            (sentence, passage) for passage in passages for sentence in sentences(passage.text)
        ]
        if not context:
            return AnswerScore(0.0, max(0.0, relevance), statements=len(statements))
        similarity = _cosine_rows(self.embedder, statements, [s for s, _ in context])
        used: dict[str, None] = {}
        detail = []
        for row, statement in enumerate(similarity.argmax(axis=1)):
            best = float(similarity[row, statement])
            supported = best >= self.threshold
            passage = context[int(statement)][1]
            if supported:
                used.setdefault(passage.link, None)
            detail.append(
                {
                    "statement": statements[row],
                    "supported": supported,
                    "similarity": round(best, 3),
                    "source": passage.number,
                }
            )
        supported = sum(item["supported"] for item in detail)
        return AnswerScore(
            supported / len(statements),
            max(0.0, relevance),
            list(used),
            len(statements),
            supported,
            detail,
        )


# -- the judge -------------------------------------------------------------------------------
class _Statement(BaseModel):
    statement: str = Field(min_length=1)
    supported: bool
    sources: list[int] = Field(default_factory=list)


class _Statements(BaseModel):
    statements: list[_Statement] = Field(min_length=1)


class _Questions(BaseModel):
    questions: list[str] = Field(min_length=1)


FAITHFULNESS_SYSTEM = (
    "You check whether an answer is faithful to its context. Split the answer into short, "
    "self-contained factual statements. For each statement decide whether the numbered "
    "context passages support it (supported: true only when the context states or directly "
    "implies it) and list the numbers of the supporting passages. Reply with only a JSON "
    'object: {"statements": [{"statement": "...", "supported": true, "sources": [1]}]}'
)
RELEVANCE_SYSTEM = (
    "Given an answer, write {n} different questions that this answer would answer. Reply "
    'with only a JSON object: {{"questions": ["...", "..."]}}'
)
Reply = TypeVar("Reply", bound=BaseModel)


class JudgeScorer:
    """ragas-style faithfulness and relevance with a judge LLM.

    Args:
        endpoint: The judge server.
        embedder: The dense embedder (relevance compares questions with it).
        retries: Re-asks after a malformed reply.
        max_tokens: Most tokens of one judge reply.
        relevance_questions: Questions written back from each answer.
        timeout: Seconds to wait for one reply.
        json_mode: Ask for ``response_format={"type": "json_object"}``.

    Attributes:
        requests: Judge calls made.
        malformed: Replies that were not the requested JSON.
        failures: Scores given up after the last re-ask.
    """

    mode = "judge"

    def __init__(
        self,
        endpoint: JudgeEndpoint,
        embedder: Embedder,
        *,
        retries: int = 2,
        max_tokens: int = 768,
        relevance_questions: int = 3,
        timeout: float = 60.0,
        json_mode: bool = True,
    ) -> None:
        self.endpoint = endpoint
        self.embedder = embedder
        self.retries = retries
        self.relevance_questions = relevance_questions
        self.params = GenerationParams(
            max_new_tokens=max_tokens, temperature=0.0, top_p=1.0, json_mode=json_mode
        )
        self.requests = 0
        self.malformed = 0
        self.failures = 0
        self._backend = judge_backend(endpoint, timeout=timeout, retries=1)

    def _count(self, _completion: Completion) -> None:
        self.requests += 1

    def _ask(self, system: str, user: str, schema: type[Reply], what: str) -> Reply | None:
        """The validated reply, re-asking (with what was wrong) after malformed ones; ``None``
        after the last.

        Raises:
            LLMError: the judge server failed (the message never carries the key).
        """

        def malformed(attempt: int, error: MalformedReply) -> None:
            self.malformed += 1
            logger.warning(
                "judge reply for {} malformed (attempt {}): {}", what, attempt + 1, error
            )

        reply = complete_json(
            self._backend,
            chat(system, user),
            schema,
            params=self.params,
            retries=self.retries,
            on_reply=self._count,
            on_malformed=malformed,
        )
        if reply is None:
            self.failures += 1
        return reply

    def score(self, question: str, answer: str, passages: Sequence[Passage]) -> AnswerScore:
        """Score ``answer`` to ``question`` against ``passages`` (numbered as in the prompt)."""
        if not sentences(answer, MIN_STATEMENT_WORDS):
            return AnswerScore(None, None, failure="the answer has no statement to score")
        context = "\n\n".join(f"[{p.number}] {p.text.strip()}" for p in passages)
        verdicts = self._ask(
            FAITHFULNESS_SYSTEM,
            f"Context:\n{context}\n\nQuestion: {question}\n\nAnswer: {answer}",
            _Statements,
            "faithfulness",
        )
        written = self._ask(
            RELEVANCE_SYSTEM.format(n=self.relevance_questions),
            f"Answer: {answer}",
            _Questions,
            "relevance",
        )
        result = AnswerScore(None, None)
        failures = []
        if verdicts is None:
            failures.append("faithfulness: the judge never replied with valid JSON")
        else:
            links = {p.number: p.link for p in passages}
            used: dict[str, None] = {}
            for item in verdicts.statements:
                if item.supported:
                    for number in item.sources:
                        if number in links:
                            used.setdefault(links[number], None)
            result.statements = len(verdicts.statements)
            result.supported = sum(item.supported for item in verdicts.statements)
            result.faithfulness = result.supported / result.statements
            result.sources_used = list(used)
            result.detail = [item.model_dump() for item in verdicts.statements]
        if written is None:
            failures.append("relevance: the judge never replied with valid JSON")
        else:
            questions = [q for q in written.questions if q.strip()][: self.relevance_questions]
            similarity = _cosine_rows(self.embedder, [question], questions)
            result.answer_relevance = max(0.0, float(similarity.mean()))
        result.failure = "; ".join(failures) or None
        return result

    def close(self) -> None:
        """Close the judge's HTTP client."""
        self._backend.close()


def build_scorer(
    settings: Settings, config: "RagEvaluationConfig", embedder: Embedder
) -> OfflineScorer | JudgeScorer:
    """The scorer the config asks for (``judge``: auto, on, off).

    Raises:
        ImproperlyConfigured: ``judge: on`` without a configured judge.
    """
    endpoint = judge_endpoint(settings) if config.judge != "off" else None
    if endpoint is None:
        if config.judge == "on":
            raise ImproperlyConfigured(
                "RAG evaluation judge: on needs a judge LLM: set JUDGE_BASE_URL (and "
                "JUDGE_MODEL_ID / JUDGE_API_KEY) or OPENAI_BASE_URL"
            )
        return OfflineScorer(embedder, config.support_threshold)
    return JudgeScorer(
        endpoint,
        embedder,
        retries=config.judge_retries,
        max_tokens=config.judge_max_tokens,
        relevance_questions=config.relevance_questions,
        timeout=settings.llm.timeout,
    )
