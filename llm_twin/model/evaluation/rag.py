"""The RAG evaluation of a registered version: answered by that version (not by whatever the
service would load), on the test split of the instruct dataset it was trained on, with the
hash the gate uses to decide whether two versions' RAG metrics may be compared."""

from typing import Any

from llm_twin.application.rag.evaluation.config import RagEvaluationConfig
from llm_twin.settings import Settings


def evaluate_version_rag(
    config: RagEvaluationConfig, settings: Settings, twin: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Run the RAG evaluation, answered by the version ``twin`` evaluated.

    Args:
        config: What the RAG evaluation measures and how.
        settings: The settings to run with (their local model is replaced by the version's).
        twin: A twin evaluation result (:func:`llm_twin.model.evaluation.run.evaluate`); None
            evaluates with the settings' own model and the config's dataset.

    Returns:
        ``evaluate_rag``'s result plus ``fingerprint`` (:func:`comparability_fingerprint`).
    """
    from llm_twin.application.rag.evaluation.run import evaluate_rag

    if twin is not None:
        settings, config = for_version(settings, config, twin)
    result = evaluate_rag(settings, config)
    result["fingerprint"] = comparability_fingerprint(config, settings, result["generation"])
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


def for_version(
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
