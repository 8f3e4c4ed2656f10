"""Removing repeated passages: the same chunk found twice, or the same text under two links
(an article cross-posted on Medium and Substack)."""

import re
from collections.abc import Sequence

from llm_twin.application.rag.chunks import RetrievedChunk

_WORD = re.compile(r"\w+")


def shingles(text: str, size: int = 3) -> frozenset[int]:
    """Hashes of the ``size``-word windows of ``text`` (lower-cased, punctuation ignored)."""
    words = _WORD.findall(text.lower())
    if len(words) < size:
        return frozenset({hash(" ".join(words))}) if words else frozenset()
    return frozenset(hash(" ".join(words[i : i + size])) for i in range(len(words) - size + 1))


def similarity(a: frozenset[int], b: frozenset[int]) -> float:
    """Overlap coefficient |a ∩ b| / min(|a|, |b|): 1 when one text contains the other, so a
    chunk cut at a slightly different place from the same article still counts as a copy."""
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def deduplicate(chunks: Sequence[RetrievedChunk], threshold: float = 0.8) -> list[RetrievedChunk]:
    """Keep the first of every group of repeated chunks, preserving order.

    Args:
        chunks: Chunks, best first.
        threshold: Two chunks whose word-trigram overlap coefficient reaches this are the same
            passage (1.0: only exact containment; lower values merge looser paraphrases).
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"dedup threshold must be in (0, 1], got {threshold}")
    kept: list[RetrievedChunk] = []
    kept_shingles: list[frozenset[int]] = []
    seen_ids: set[str] = set()
    for chunk in chunks:
        if chunk.id in seen_ids:
            continue
        seen_ids.add(chunk.id)
        current = shingles(chunk.content)
        if any(similarity(current, other) >= threshold for other in kept_shingles):
            continue
        kept.append(chunk)
        kept_shingles.append(current)
    return kept
