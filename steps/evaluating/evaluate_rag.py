"""RAG evaluation step: retrieval recall@k / MRR on labelled questions and the faithfulness and
relevance of a few generated answers (see ``llm_twin.application.rag.evaluation``)."""

from typing import Annotated, Any

from zenml import log_metadata, step

from llm_twin.application.rag.evaluation.config import RagEvaluationConfig
from llm_twin.settings import get_settings
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
        ``evaluate_rag``; ``fingerprint``: the hash the gate uses to decide whether two
        versions' RAG metrics may be compared, see :mod:`llm_twin.model.evaluation.rag`).
    """
    from llm_twin.model.evaluation.rag import evaluate_version_rag

    result = evaluate_version_rag(config, get_settings(), twin)
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
