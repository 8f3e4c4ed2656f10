"""Retrieval metrics: recall@k and MRR of ranked source links against the expected ones.

Shared by the product's evaluation and the retrieval benchmarks (``bench/rag_common.py``).
"""

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llm_twin.application.rag import ContextRetriever, RetrievedChunk
    from llm_twin.application.rag.evaluation.questions import LabelledQuestion

CUTS = (1, 3, 5)


def unique_links(links: Sequence[str]) -> list[str]:
    """``links`` without repeats, first occurrence kept (several chunks share a document)."""
    seen: dict[str, None] = {}
    for link in links:
        seen.setdefault(link, None)
    return list(seen)


def first_hit(links: Sequence[str], wanted: Sequence[str]) -> int | None:
    """1-based rank of the first expected link among the unique ``links``, or ``None``."""
    expected = set(wanted)
    for rank, link in enumerate(unique_links(links), start=1):
        if link in expected:
            return rank
    return None


def score(
    ranked_links: Sequence[Sequence[str]],
    expected: Sequence[Sequence[str]],
    cuts: Sequence[int] = CUTS,
) -> dict[str, float]:
    """``recall@c`` for each cut ``c`` and MRR of ranked unique links, averaged over questions
    and rounded to 3 decimals (a hit is any expected link; an empty set scores 0).

    Args:
        ranked_links: Per question, the links of the retrieved chunks, best first.
        expected: Per question, the links that answer it.
        cuts: The recall cut-offs.
    """
    totals = {f"recall@{cut}": 0.0 for cut in cuts} | {"mrr": 0.0}
    for links, wanted in zip(ranked_links, expected, strict=True):
        first = first_hit(links, wanted)
        for cut in cuts:
            totals[f"recall@{cut}"] += 1.0 if first is not None and first <= cut else 0.0
        totals["mrr"] += 1.0 / first if first else 0.0
    n = max(1, len(expected))
    return {name: round(value / n, 3) for name, value in totals.items()}


def retrieve_all(
    retriever: "ContextRetriever", questions: Sequence["LabelledQuestion"], k: int
) -> list[list["RetrievedChunk"]]:
    """The top-``k`` chunks of every question (``retriever.search``, as the API calls it).

    Args:
        retriever: The retriever.
        questions: The questions (with an optional author filter each).
        k: Chunks per question.
    """
    return [retriever.search(q.question, k=k, author=q.author) for q in questions]
