"""Feature step 2: clean -> chunk -> embed -> load the planned documents (one fused step).

Why fused: the stages stream batches of documents through the encoder. As separate ZenML
steps, every cleaned document, chunk and 384-d vector would be serialised to the artifact
store and read back between steps; the plan (ids only) is the one artifact worth keeping.
Per-stage seconds are still recorded as this step's metadata.
"""

from typing import Annotated

from zenml import step

from llm_twin.application.preprocessing.sync import SyncPlan, SyncReport
from pipelines.configs import FeatureEngineeringConfig
from steps.feature_engineering.context import feature_sync
from steps.metadata import record_counts


# Never cached: the same plan parameters can meet a different warehouse and store.
@step(enable_cache=False)
def apply_feature_sync(
    plan: SyncPlan, config: FeatureEngineeringConfig
) -> Annotated[SyncReport, "sync_report"]:
    """Delete gone documents, then clean, chunk, embed and load the changed ones.

    Args:
        plan: Output of ``plan_feature_sync``.
        config: The pipeline's config (its ``chunking`` and ``batch_documents`` apply here).
    """
    with feature_sync(config) as sync:
        report = sync.apply(plan)
    counts = report.counts()
    counts.pop("documents_skipped")  # counted by the planning step
    record_counts(
        {
            "documents_per_category": {k: v["documents"] for k, v in report.per_category.items()},
            "chunks_per_category": {k: v["chunks"] for k, v in report.per_category.items()},
            "seconds_per_stage": report.seconds,
        },
        **counts,
    )
    return report
