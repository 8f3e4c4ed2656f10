"""Evaluation: score a registered model version (base vs pt vs SFT vs DPO) on the held-out
documents and test split of its instruct dataset; report, model card, registry record, ZenML
metadata, Comet; optionally promote it when the gate (against its base and the production
version) passes.

    poe run-evaluation-pipeline                          # configs/evaluating.yaml, offline

The config (:class:`~pipelines.configs.EvaluatingConfig`: the ``EvaluationConfig`` fields plus
``rag_evaluation`` and ``rag``) is validated when it is loaded, so a bad config fails before any
step runs. The RAG evaluation (retrieval recall@k/MRR, faithfulness and relevance of grounded
answers, answered by the evaluated version) runs between the two; its numbers join the report,
the model card and the run summary's ``metrics.rag``. When the production version's saved
evaluation was measured with other settings (another profile), it is evaluated again with these
first (``reevaluate_production``), so that the gate, which decides promotion last, compares like
with like.
"""

from zenml import pipeline

from llm_twin.model.evaluation.config import EvaluationConfig
from pipelines.configs import EvaluatingConfig
from steps.evaluating.evaluate_rag import evaluate_rag
from steps.evaluating.evaluate_twin import evaluate_twin
from steps.evaluating.publish_evaluation import publish_evaluation
from steps.evaluating.refresh_production import refresh_production


@pipeline
def evaluating(config: EvaluatingConfig) -> None:
    """Evaluate the twin (and the RAG system) → re-measure production if needed → publish and
    gate.

    Args:
        config: ``configs/evaluating.yaml``.
    """
    evaluation = config.part(EvaluationConfig)
    twin = evaluate_twin(config=evaluation)
    rag_metrics = None
    if config.rag_evaluation:
        rag_metrics = evaluate_rag(config=config.rag, twin=twin)
    baseline = refresh_production(
        config=evaluation,
        twin=twin,
        rag=rag_metrics,
        rag_config=config.rag if config.rag_evaluation else None,
        enabled=config.reevaluate_production,
    )
    publish_evaluation(twin=twin, config=evaluation, rag=rag_metrics, baseline=baseline)
