"""Publishing step: gate and promotion, report files saved with the version, model card, version
record, ZenML metadata (step and model version) and Comet; the metrics for the run's summary."""

from typing import Annotated, Any

from zenml import log_metadata, step

from llm_twin.model.evaluation.config import EvaluationConfig
from llm_twin.model.registry import (
    ModelRegistry,
    registry_root,
    sync_to_zenml,
    zenml_version_name,
)
from llm_twin.settings import get_settings
from steps.metadata import record_counts


def rag_summary(rag: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The flat numbers and labels of each section of a RAG evaluation result (``retrieval``,
    ``generation``...): no lists, nested tables or None (ZenML metadata refuses None)."""
    return {
        section: {
            key: value
            for key, value in values.items()
            if isinstance(value, int | float | str) and not isinstance(value, bool)
        }
        for section, values in rag.items()
        if isinstance(values, dict)
    }


def summary_metrics(published: dict[str, Any], rag: dict[str, Any] | None) -> dict[str, Any]:
    """What the run's JSON summary line carries under ``metrics``: every model's metrics by
    name (``base``, ``sft``, ``dpo``), the gate, and the RAG evaluation's sections when it ran."""
    metrics: dict[str, Any] = dict(published["metrics"])
    metrics["gate"] = published["gate"]
    if rag:
        metrics["rag"] = rag_summary(rag)
    return metrics


@step(enable_cache=False)
def publish_evaluation(
    twin: dict[str, Any],
    config: EvaluationConfig,
    rag: dict[str, Any] | None = None,
    baseline: dict[str, Any] | None = None,
) -> Annotated[dict[str, Any], "evaluation_summary"]:
    """Publish ``twin`` (and ``rag``) for the evaluated version.

    Args:
        twin: Output of ``evaluate_twin``.
        config: The evaluation's config (promotion target, tracking...).
        rag: Output of the RAG evaluation step, when the pipeline runs one.
        baseline: Output of ``refresh_production`` (taking it makes this step run after it,
            when production's saved evaluation is up to date); returned in the summary.
    """
    from llm_twin.model.evaluation.run import publish

    settings = get_settings()
    # The registry is mirrored into ZenML once, below, with the stage the gate left.
    published = publish(twin, config, settings, rag, zenml=False)
    metrics = summary_metrics(published, rag)
    version = ModelRegistry(registry_root(settings), published["model_name"]).get(
        int(published["version"])
    )
    sync_to_zenml(version)  # creates the ZenML model version if missing, sets its stage
    log_metadata(
        metadata={"evaluation": metrics, "report": published["report"]},
        model_name=version.name,
        model_version=zenml_version_name(version.version),
    )
    record_counts(
        {
            "summary_metrics": metrics,
            "report": published["report"],
            "promotion": published["promotion"],
            "gate_decided_by": published["gate"]["decided_by"],
        },
        model_version=version.version,
        gate_passed=int(published["gate"]["passed"]),
        gate_checks_skipped=len(published["gate"]["skipped"]),
        promoted=int(published["promotion"].startswith("promoted")),
    )
    summary = {key: value for key, value in published.items() if key != "samples"}
    return summary | ({"production_baseline": baseline} if baseline else {})
