"""Production-baseline step: evaluate the production version again with the candidate's
settings when its saved evaluation was measured otherwise, so that the gate compares like with
like (see ``llm_twin.model.evaluation.baseline``)."""

from typing import Annotated, Any

from zenml import step

from llm_twin.application.rag.evaluation.config import RagEvaluationConfig
from llm_twin.model.evaluation.config import EvaluationConfig
from llm_twin.settings import get_settings
from steps.metadata import record_counts


@step(enable_cache=False)
def refresh_production(
    config: EvaluationConfig,
    twin: dict[str, Any],
    rag: dict[str, Any] | None = None,
    rag_config: RagEvaluationConfig | None = None,
    enabled: bool = True,
) -> Annotated[dict[str, Any], "production_baseline"]:
    """Re-measure production like the candidate ``twin`` (never cached: the registry changes).

    Args:
        config: The candidate's evaluation config.
        twin: Output of ``evaluate_twin`` (the candidate).
        rag: Output of ``evaluate_rag`` for the candidate, when the pipeline runs one.
        rag_config: The RAG evaluation's config (production's RAG metrics are measured with it).
        enabled: False leaves production's saved evaluation as it is (the gate then skips the
            comparisons measured otherwise).

    Returns:
        What was done and why (``refresh_production``'s summary).
    """
    from llm_twin.model.evaluation.baseline import refresh_production as refresh

    if not enabled:
        summary = {"production": None, "reevaluated": False, "reason": "reevaluate_production off"}
    else:
        summary = refresh(config, get_settings(), twin, rag, rag_config)
    # Into the run's JSON summary (``metrics.production_baseline``); no None in ZenML metadata.
    shown = {key: value for key, value in summary.items() if value is not None}
    record_counts(
        {"summary_metrics": {"production_baseline": shown}},
        production_reevaluated=int(summary["reevaluated"]),
    )
    return summary
