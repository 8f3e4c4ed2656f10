"""Feature engineering: clean, chunk, embed and index the warehouse into the vector store.

Incremental: documents whose content hash is unchanged are skipped, changed ones re-indexed,
deleted ones removed (see :mod:`llm_twin.application.preprocessing.sync`).
"""

from typing import Any

from zenml import pipeline

from steps.feature_engineering.apply_sync import apply_feature_sync
from steps.feature_engineering.plan_sync import plan_feature_sync


@pipeline
def feature_engineering(
    author_full_names: list[str] | None = None,
    categories: list[str] | None = None,
    chunking: dict[str, dict[str, Any]] | None = None,
    batch_documents: int = 32,
    reindex: bool = False,
    wait_for: list[Any] | None = None,
) -> Any:
    """Sync the warehouse into the cleaned-documents and embedded-chunks collections.

    Args:
        author_full_names: Only these authors' documents (empty: all authors).
        categories: Only these categories (empty: all).
        chunking: Per category ``{chunk_tokens, overlap_tokens, min_chunk_tokens}``.
        batch_documents: Documents per encoder batch.
        reindex: Re-process unchanged documents too (after changing chunking or embedder).
        wait_for: Steps to wait for when composed into another pipeline (``end_to_end_data``).

    Returns:
        The sync step's report (what a composing pipeline waits for).
    """
    plan = plan_feature_sync(author_full_names, categories, reindex, after=wait_for)
    return apply_feature_sync(plan, chunking, batch_documents)
