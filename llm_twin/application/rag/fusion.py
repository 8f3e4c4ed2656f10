"""Fusing ranked lists from several searches (dense, sparse, query variants) into one ranking."""

from collections.abc import Hashable, Mapping, Sequence
from typing import Literal, TypeVar

KeyT = TypeVar("KeyT", bound=Hashable)

FusionMethod = Literal["rrf", "score"]


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[KeyT]],
    weights: Sequence[float] | None = None,
    k: float = 60.0,
) -> dict[KeyT, float]:
    """Weighted reciprocal rank fusion: ``score(x) = Σ_i w_i / (k + rank_i(x))``, rank from 1.

    Args:
        rankings: Lists of keys, best first; a key may be missing from some lists.
        weights: One weight per list (default: all 1).
        k: Damping constant; larger values flatten the difference between ranks.

    Returns:
        Fused score per key (higher is better), in no particular order.
    """
    weights = _check_weights(rankings, weights)
    scores: dict[KeyT, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, key in enumerate(ranking, start=1):
            scores[key] = scores.get(key, 0.0) + weight / (k + rank)
    return scores


def score_fusion(
    scored: Sequence[Mapping[KeyT, float]],
    weights: Sequence[float] | None = None,
) -> dict[KeyT, float]:
    """Weighted sum of min–max normalised scores ("relative score fusion").

    Each list's scores are scaled to [0, 1] (best = 1) so a cosine similarity and a BM25 score
    can be added; a key missing from a list gets 0 from it.

    Args:
        scored: One ``key → raw score`` mapping per search (higher is better).
        weights: One weight per mapping (default: all 1).

    Returns:
        Fused score per key (higher is better), in no particular order.
    """
    weights = _check_weights(scored, weights)
    fused: dict[KeyT, float] = {}
    for scores, weight in zip(scored, weights, strict=True):
        if not scores:
            continue
        low, high = min(scores.values()), max(scores.values())
        span = high - low
        for key, value in scores.items():
            normalised = (value - low) / span if span > 0 else 1.0
            fused[key] = fused.get(key, 0.0) + weight * normalised
    return fused


def _check_weights(lists: Sequence[object], weights: Sequence[float] | None) -> list[float]:
    if weights is None:
        return [1.0] * len(lists)
    if len(weights) != len(lists):
        raise ValueError(f"{len(weights)} weights given for {len(lists)} ranked lists")
    if any(w < 0 for w in weights):
        raise ValueError(f"fusion weights must not be negative: {list(weights)}")
    return [float(w) for w in weights]
