"""The production baseline, measured like the candidate.

The gate compares a candidate's metrics with the production version's saved evaluation only
where both were measured the same way (:meth:`EvaluationConfig.comparability` and the RAG
evaluation's fingerprint); other comparisons are skipped. Production's saved evaluation often
comes from another profile: the quickstart evaluates 10 test rows and 10 grounded answers,
``configs/evaluating_cpu.yaml`` 30 and 30. :func:`refresh_production` therefore evaluates the
production version again with the candidate's settings before the gate runs (its twin metrics,
and its RAG metrics when the candidate has them) and saves that as production's evaluation, so
the gate compares like with like. Every evaluation of a version is kept by its fingerprint
(``evaluation/history/``): a profile measured once is found again, never recomputed.

What a re-evaluation cannot make comparable it leaves alone, and says why: production trained
on another instruct dataset version (other test rows) or from another base model (another
tokenizer). The gate then skips those checks and lists them, as before.
"""

from typing import TYPE_CHECKING, Any

from loguru import logger

from llm_twin.application.rag.evaluation.config import RagEvaluationConfig
from llm_twin.model.evaluation.config import EvaluationConfig
from llm_twin.model.registry import ModelRegistry, ModelVersion, registry_root
from llm_twin.settings import Settings

if TYPE_CHECKING:
    from llm_twin.model.evaluation.gate import Production


def refresh_production(
    config: EvaluationConfig,
    settings: Settings,
    candidate: dict[str, Any],
    candidate_rag: dict[str, Any] | None = None,
    rag_config: RagEvaluationConfig | None = None,
) -> dict[str, Any]:
    """Evaluate the production version again with the candidate's settings when its saved
    evaluation was measured otherwise.

    Args:
        config: The candidate's evaluation config (production is evaluated with the same one,
            never promoted: ``promote_to: none``).
        settings: DATA_DIR, the RAG and LLM settings.
        candidate: The candidate's twin evaluation (:func:`~.run.evaluate`).
        candidate_rag: The candidate's RAG evaluation (with its ``fingerprint``), if one ran.
        rag_config: The RAG evaluation's config, to evaluate production's RAG metrics the same
            way (needed when ``candidate_rag`` is given).

    Returns:
        ``{"production": N or None, "reevaluated": bool, "reason": str, "stale": [metric...],
        "twin_reused": bool, "rag_reevaluated": bool}``: ``stale`` lists the gated metrics
        production's saved evaluation had measured otherwise.
    """
    from llm_twin.model.evaluation.gate import gated_comparability, load_production
    from llm_twin.model.evaluation.run import EVALUATION_DIR

    registry = ModelRegistry(registry_root(settings), candidate["model_name"], zenml=False)
    production = registry.in_stage("production")
    if production is None:
        return _left(None, "no version is in production")
    if production.version == int(candidate["version"]):
        return _left(production.version, "the candidate is the production version")
    reason = _incomparable(production, registry.get(int(candidate["version"])), candidate)
    if reason:
        return _left(production.version, reason)
    wanted = gated_comparability(candidate, candidate_rag)
    saved = load_production(production.version, production.path / EVALUATION_DIR, wanted)
    stale = sorted(name for name, value in wanted.items() if saved.comparability.get(name) != value)
    if not stale:
        return _left(production.version, "its saved evaluation was measured like the candidate's")
    logger.info(
        "production v{} was measured otherwise for {}: evaluating it again with these settings",
        production.version,
        ", ".join(stale),
    )
    return _reevaluate(production, saved, config, settings, stale, candidate_rag, rag_config)


def _incomparable(
    production: ModelVersion, candidate_version: ModelVersion, candidate: dict[str, Any]
) -> str | None:
    """Why no re-evaluation of ``production`` can be compared with ``candidate``, if so."""
    dataset = candidate.get("details", {}).get("dataset_version")
    theirs = production.dataset_versions.get("instruct")
    if theirs != dataset:
        return (
            f"it was trained on instruct dataset {theirs}, the candidate on {dataset}: their test "
            "rows differ, so no re-evaluation makes them comparable"
        )
    if production.base_model != candidate_version.base_model:
        return (
            f"its base model is {production.base_model}, the candidate's "
            f"{candidate_version.base_model}: perplexities of other tokenizers are not comparable"
        )
    return None


def _reevaluate(
    production: ModelVersion,
    saved: "Production",
    config: EvaluationConfig,
    settings: Settings,
    stale: list[str],
    candidate_rag: dict[str, Any] | None,
    rag_config: RagEvaluationConfig | None,
) -> dict[str, Any]:
    from llm_twin.model.evaluation.gate import RAG_METRICS
    from llm_twin.model.evaluation.rag import evaluate_version_rag
    from llm_twin.model.evaluation.run import evaluate, publish

    as_production = config.model_copy(
        update={"model_version": str(production.version), "promote_to": "none", "force": False}
    )
    result = evaluate(as_production, settings)
    rag = saved.rag  # measured like the candidate's unless the RAG metrics are stale
    rag_stale = candidate_rag is not None and any(name in RAG_METRICS for name in stale)
    if rag_stale:
        if rag_config is None:
            raise ValueError("refresh_production needs rag_config with candidate_rag")
        rag = evaluate_version_rag(rag_config, settings, result)
    publish(result, as_production, settings, rag, zenml=False)
    return {
        "production": production.version,
        "reevaluated": True,
        "reason": f"its saved evaluation measured {', '.join(stale)} otherwise",
        "stale": stale,
        "twin_reused": bool(result["reused"]),
        "rag_reevaluated": rag_stale,
    }


def _left(version: int | None, reason: str) -> dict[str, Any]:
    """Production was not evaluated again, for ``reason``."""
    return {
        "production": version,
        "reevaluated": False,
        "reason": reason,
        "stale": [],
        "twin_reused": False,
        "rag_reevaluated": False,
    }
