"""Grounded question–answer samples: the question with retrieved context, in the inference
service's exact prompt format, answered by the author's passage.

The context is built like the service builds it: :class:`~llm_twin.application.rag.chunks.
RetrievedChunk` records rendered by :func:`~llm_twin.application.rag.chunks.to_context` (cut at
``context_chars``), and the user turn by :func:`~llm_twin.domain.prompts.format_user_message`.
It holds the answer's passage and up to ``distractors`` other passages of the same author,
preferably from other documents, at a seeded position. It runs after the split, on each split
separately, so a training sample's context never quotes a test document (the held-out
documents stay unseen by training).
"""

import hashlib
import random
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llm_twin.application.rag.chunks import RetrievedChunk

Row = dict[str, Any]
TEMPLATE = "grounded_qa"


def _chunk(row: Row) -> "RetrievedChunk":
    """A row's answer as the retrieved chunk the service would show."""
    from llm_twin.application.rag.chunks import RetrievedChunk

    return RetrievedChunk(
        id=f"{row.get('document_id')}:{row.get('extract_index')}",
        content=str(row["answer"]),
        score=0.0,
        document_id=str(row.get("document_id") or ""),
        title=row.get("title") or None,
        link=str(row.get("link") or ""),
        author=str(row.get("author_full_name") or ""),
        author_id="",
        category=str(row.get("category") or ""),
        platform="",
        chunk_index=int(row.get("extract_index") or 0),
    )


def _rng(seed: int, row: Row) -> random.Random:
    key = f"{seed}:{row.get('document_id')}:{row.get('extract_index')}".encode()
    return random.Random(int.from_bytes(hashlib.sha256(key).digest()[:8]))


def grounded_context(
    row: Row, pool: Sequence[Row], distractors: int, context_chars: int, seed: int
) -> str:
    """The context of ``row``'s question: its passage among ``distractors`` passages of ``pool``.

    Args:
        row: A ``grounded_qa`` row (its ``answer`` is the passage).
        pool: Rows whose answers may be shown beside it (the same split).
        distractors: How many other passages to show.
        context_chars: The service's context limit; distractors that would push the passage
            out of it are left out.
        seed: Fixes the choice and the position.
    """
    from llm_twin.application.rag.chunks import to_context

    author = row.get("author_full_name")
    same_author = [
        other
        for other in pool
        if other.get("author_full_name") == author
        and other.get("answer") != row["answer"]
        and other.get("origin") != "feedback"
    ]
    # Other documents first (a retriever mixes sources), then the same document's passages.
    others = [r for r in same_author if r.get("document_id") != row.get("document_id")]
    same = [r for r in same_author if r.get("document_id") == row.get("document_id")]
    rng = _rng(seed, row)
    rng.shuffle(others)
    rng.shuffle(same)
    passage = _chunk(row)
    budget = context_chars - len(passage.content) - 200  # headers and the sources list
    chosen: list[RetrievedChunk] = []
    for other in [*others, *same]:
        if len(chosen) == distractors:
            break
        if len(str(other["answer"])) + 150 <= budget:
            chosen.append(_chunk(other))
            budget -= len(str(other["answer"])) + 150
    chosen.insert(rng.randint(0, len(chosen)), passage)
    context = to_context(chosen, max_chars=context_chars)
    while passage.content.strip() not in context:  # cut by the limit: fewer distractors
        chosen = [c for c in chosen if c is not passage][:-1]
        chosen.insert(0, passage)
        context = to_context(chosen, max_chars=context_chars)
    return context


def ground(rows: Sequence[Row], distractors: int, context_chars: int, seed: int) -> list[Row]:
    """``rows`` with every ``grounded_qa`` row's ``instruction`` set to the service's user turn
    (context + question) and its ``context`` column filled; other rows unchanged.

    Args:
        rows: The rows of one split.
        distractors: Other passages per context.
        context_chars: The service's context limit (``LLM_CONTEXT_CHARS``).
        seed: Fixes the choice and order of passages.
    """
    from llm_twin.domain.prompts import format_user_message

    result = []
    for row in rows:
        if row.get("template") != TEMPLATE or "instruction" not in row:
            result.append(row)
            continue
        question = str(row.get("question") or row["instruction"])
        context = grounded_context(row, rows, distractors, context_chars, seed)
        result.append(
            {
                **row,
                "question": question,
                "context": context,
                "instruction": format_user_message(question, context),
            }
        )
    return result
