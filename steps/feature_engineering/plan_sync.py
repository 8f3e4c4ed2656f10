"""Feature step 1: query the warehouse and the vector store; decide what to process."""

import time
from typing import Annotated

from zenml import step

from llm_twin.application.preprocessing.sync import SyncPlan
from pipelines.configs import FeatureEngineeringConfig
from steps.feature_engineering.context import feature_sync
from steps.metadata import record_counts


# Never cached: the warehouse can change between runs with identical parameters.
@step(enable_cache=False)
def plan_feature_sync(config: FeatureEngineeringConfig) -> Annotated[SyncPlan, "sync_plan"]:
    """Compare each document's content hash with the stored copy's.

    Args:
        config: The pipeline's config (its ``author_full_names``, ``categories`` and
            ``reindex`` apply here).
    """
    started = time.perf_counter()
    with feature_sync(config) as sync:
        plan = sync.plan()
    record_counts(
        {
            "documents_to_process": {k: len(v) for k, v in plan.process.items()},
            "documents_unchanged": plan.skipped,
            "seconds": round(time.perf_counter() - started, 3),
        },
        documents_skipped=plan.documents_skipped,
    )
    return plan
