"""Evaluation: score a registered model version (base vs SFT vs DPO) on the held-out test split
of its instruct dataset; report, model card, registry record, ZenML metadata, Comet; optionally
promote it when the gate passes.

    poe run-evaluation-pipeline                          # configs/evaluating.yaml, offline

The parameters are those of ``llm_twin.model.evaluation.config.EvaluationConfig``; they are
validated when the pipeline is built, so a bad config fails before any step runs. The RAG
evaluation (retrieval recall@k/MRR, faithfulness and relevance of grounded answers, answered by
the evaluated version) runs between the two; its numbers join the report, the model card and the
run summary's ``metrics.rag``. The gate decides promotion after both.
"""

from typing import Any

from zenml import pipeline

from llm_twin.application.rag.evaluation.config import parse_config as parse_rag_config
from llm_twin.model.evaluation.config import parse_config
from steps.evaluating.evaluate_rag import evaluate_rag
from steps.evaluating.evaluate_twin import evaluate_twin
from steps.evaluating.publish_evaluation import publish_evaluation


@pipeline
def evaluating(
    model_name: str = "llm-twin",
    model_version: str | int = "latest",
    max_samples: int = 10,
    seed: int = 42,
    max_new_tokens: int = 80,
    batch_size: int = 10,
    repetition_penalty: float = 1.1,
    max_length: int = 512,
    device: str = "auto",
    threads: int = 0,
    use_vllm: str = "auto",
    style_words: int = 60,
    judge: str = "auto",
    judge_retries: int = 2,
    judge_max_tokens: int = 300,
    samples_in_report: int = 3,
    thresholds: dict[str, Any] | None = None,
    promote_to: str = "none",
    tracking: str = "comet",
    force: bool = False,
    rag_evaluation: bool = True,
    rag: dict[str, Any] | None = None,
) -> None:
    """Evaluate the twin (and the RAG system) → publish and gate.

    Every argument but the last two is an ``EvaluationConfig`` field (see its docs).

    Args:
        rag_evaluation: Also evaluate retrieval and grounded answers with the evaluated version.
        rag: The RAG evaluation's ``RagEvaluationConfig`` fields (validated when the pipeline is
            built).
    """
    values = {
        "model_name": model_name,
        "model_version": model_version,
        "max_samples": max_samples,
        "seed": seed,
        "max_new_tokens": max_new_tokens,
        "batch_size": batch_size,
        "repetition_penalty": repetition_penalty,
        "max_length": max_length,
        "device": device,
        "threads": threads,
        "use_vllm": use_vllm,
        "style_words": style_words,
        "judge": judge,
        "judge_retries": judge_retries,
        "judge_max_tokens": judge_max_tokens,
        "samples_in_report": samples_in_report,
        "thresholds": thresholds or {},
        "promote_to": promote_to,
        "tracking": tracking,
        "force": force,
    }
    config = parse_config(values).model_dump(mode="json")
    twin = evaluate_twin(config=config)
    rag_metrics = None
    if rag_evaluation:
        rag_config = parse_rag_config(rag).model_dump(mode="json")
        rag_metrics = evaluate_rag(config=rag_config, twin=twin)
    publish_evaluation(twin=twin, config=config, rag=rag_metrics)
