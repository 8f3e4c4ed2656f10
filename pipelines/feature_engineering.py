"""Feature engineering: clean, chunk, embed and index the warehouse into the vector store.

Incremental: documents whose content hash is unchanged are skipped, changed ones re-indexed,
deleted ones removed (see :mod:`llm_twin.application.preprocessing.sync`).
"""

from typing import Any

from zenml import pipeline

from pipelines.configs import FeatureEngineeringConfig
from steps.feature_engineering.apply_sync import apply_feature_sync
from steps.feature_engineering.plan_sync import plan_feature_sync


@pipeline
def feature_engineering(config: FeatureEngineeringConfig, wait_for: list[Any] | None = None) -> Any:
    """Sync the warehouse into the cleaned-documents and embedded-chunks collections.

    Args:
        config: What to sync and how to cut it (``configs/feature_engineering.yaml``).
        wait_for: Steps to wait for when composed into another pipeline (``end_to_end_data``).

    Returns:
        The sync step's report (what a composing pipeline waits for).
    """
    plan = plan_feature_sync(config, after=wait_for)
    return apply_feature_sync(plan, config)
