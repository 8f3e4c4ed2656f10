"""Abstaining: when nothing the author wrote is close enough to a question, the twin says so
in its own voice, with the nearest sources, instead of generating from nothing.

The relevance of a retrieval is the dense (MiniLM cosine) similarity of its best passage: the
one score on an absolute scale (the fused and the reranker scores are min-max normalised over
each query's candidates, so the best passage of an off-topic question scores as high as that of
a good one). ``RAG_ABSTAIN_THRESHOLD`` is calibrated by ``bench/abstain.py`` on the dev
questions (answerable) and off-topic questions.
"""

from collections.abc import Sequence
from typing import TYPE_CHECKING

from llm_twin.application.inference.models import AnswerSource

if TYPE_CHECKING:
    from llm_twin.application.rag import RetrievedChunk

#: The per-stage score abstaining reads (see the module's docstring).
RELEVANCE_SCORE = "dense"
#: Nearest sources named in an abstention.
NEAREST_SOURCES = 3


def relevance(chunks: Sequence["RetrievedChunk"]) -> float | None:
    """The best dense similarity among ``chunks`` (``None``: no chunk has one, e.g. dense
    search is off; 0.0 for no chunks at all).

    Args:
        chunks: Retrieved passages (their ``scores`` hold the per-stage scores).
    """
    if not chunks:
        return 0.0
    scores = [c.scores[RELEVANCE_SCORE] for c in chunks if RELEVANCE_SCORE in c.scores]
    return max(scores) if scores else None


def should_abstain(chunks: Sequence["RetrievedChunk"], threshold: float) -> bool:
    """Whether the twin should abstain on these passages: abstaining is on (``threshold`` >
    0) and the best passage's relevance is below it (an unscored retrieval never abstains).

    Args:
        chunks: Retrieved passages.
        threshold: ``RAG_ABSTAIN_THRESHOLD``.
    """
    score = relevance(chunks)
    return threshold > 0 and score is not None and score < threshold


def _nearest(sources: Sequence[AnswerSource]) -> str:
    titles = [f"“{s.title or s.link}” ({s.link})" for s in sources[:NEAREST_SOURCES]]
    if not titles:
        return ""
    return " The closest things I have written are " + "; ".join(titles) + "."


def abstention_answer(sources: Sequence[AnswerSource]) -> str:
    """What the twin says when it has not written about a question.

    Args:
        sources: The nearest sources, best first.
    """
    return (
        "I haven't written about that, so I would rather not guess."
        + _nearest(sources)
        + " Ask me about something from my articles and posts instead."
    ).strip()


def abstention_draft(topic: str, sources: Sequence[AnswerSource]) -> str:
    """What the twin says when asked to draft on a topic it has never written about.

    Args:
        topic: The requested topic.
        sources: The nearest sources, best first.
    """
    return (
        f"I haven't written about {topic.strip().rstrip('.?!')}, so I won't draft something "
        "in my name from nothing." + _nearest(sources)
    )
