"""RAG evaluation step: retrieval recall@k / MRR on labelled questions and the faithfulness and
relevance of a few generated answers (see ``llm_twin.application.rag.evaluation``)."""

from typing import Annotated, Any

from zenml import log_metadata, step

from llm_twin.application.rag.evaluation.config import RagEvaluationConfig
from llm_twin.settings import Settings, get_settings
from steps.metadata import record_counts

#: The metrics attached to the step as metadata (``rag_metrics``), per section.
RETRIEVAL_METRICS = ("recall@1", "recall@3", "recall@5", "mrr", "questions")
GENERATION_METRICS = ("faithfulness", "answer_relevance", "questions", "scored", "mode")


@step(enable_cache=False)
def evaluate_rag(
    config: RagEvaluationConfig, twin: dict[str, Any] | None = None
) -> Annotated[dict[str, Any], "rag_metrics"]:
    """Evaluate the RAG service (never cached: the index and model change).

    Args:
        config: What the RAG evaluation measures and how (ZenML validates plain data into it
            before the step runs).
        twin: The twin evaluation's output (evaluation pipeline): the local backend then
            answers with that model version, not with whatever serves now, and the generated
            questions come from the test split of the instruct dataset it was trained on.

    Returns:
        ``{"retrieval", "generation", "examples", "k", "seconds", "fingerprint"}`` (see
        ``evaluate_rag``; ``fingerprint``: :func:`comparability_fingerprint`, which the gate
        uses to decide whether two versions' RAG metrics may be compared).
    """
    from llm_twin.application.rag.evaluation.run import evaluate_rag as run_evaluation

    settings = get_settings()
    if twin is not None:
        settings, config = _for_version(settings, config, twin)
    result = run_evaluation(settings, config)
    result["fingerprint"] = comparability_fingerprint(config, settings, result["generation"])
    retrieval, generation = result["retrieval"], result["generation"]
    log_metadata(
        metadata={
            "rag_metrics": {
                "retrieval": {name: retrieval[name] for name in RETRIEVAL_METRICS}
                | {
                    f"{source}_{name}": values[name]
                    for source, values in retrieval["sources"].items()
                    for name in ("recall@1", "recall@5", "mrr")
                },
                # ZenML metadata values cannot be None: unscored metrics are left out.
                "generation": {
                    name: generation[name]
                    for name in GENERATION_METRICS
                    if generation.get(name) is not None
                },
                "k": result["k"],
                "seconds": result["seconds"]["total"],
            }
        }
    )
    record_counts(
        rag_eval_questions=retrieval["questions"],
        rag_eval_misses=retrieval["miss_count"],
        rag_eval_answers=generation["questions"],
        rag_eval_judge_failures=generation.get("judge_failures", 0),
    )
    return result


def comparability_fingerprint(
    config: RagEvaluationConfig, settings: Settings, generation: dict[str, Any]
) -> str:
    """A hash of what the RAG metrics of two versions must share to be compared: the RAG
    evaluation's config (its instruct dataset version resolved), the labelled questions file's
    content, the retrieval settings (``RAG_*`` and the embedding model; not the threads,
    timeouts, device or engine, which do not change results) and how the answers were scored
    (offline or by which judge). The index's content is not hashed: re-indexing other documents
    between two evaluations goes unnoticed.

    Args:
        config: The RAG evaluation's config.
        settings: The settings it ran with.
        generation: Its result's ``generation`` section (scoring mode, judge model).
    """
    from llm_twin.application.rag.evaluation.questions import resolve_path
    from llm_twin.model.evaluation.config import digest

    questions = None
    if config.questions_file:
        path = resolve_path(config.questions_file)
        questions = digest(path.read_text(encoding="utf-8")) if path.is_file() else str(path)
    return digest(
        {
            "config": config.model_dump(mode="json"),
            "questions": questions,
            "scoring": [generation.get("mode"), generation.get("judge_model")],
            "rag": {
                name: value
                for name, value in settings.rag.model_dump(mode="json").items()
                if not any(word in name for word in ("threads", "timeout", "device", "engine"))
            },
        }
    )


def _for_version(
    settings: Settings, config: RagEvaluationConfig, twin: dict[str, Any]
) -> tuple[Settings, RagEvaluationConfig]:
    """Settings whose local model is the evaluated version's, and the config reading that
    version's instruct dataset when it says ``latest``."""
    from llm_twin.model.registry import ModelRegistry, registry_root

    registry = ModelRegistry(registry_root(settings), twin["model_name"], zenml=False)
    version = registry.get(int(twin["version"]))
    settings = settings.updated(LLM_MODEL_PATH=version.model_dir)
    dataset_version = twin.get("details", {}).get("dataset_version")
    if config.dataset_version == "latest" and dataset_version:
        config = config.model_copy(update={"dataset_version": dataset_version})
    return settings, config
