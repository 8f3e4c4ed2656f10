"""Twin evaluation step: base vs pt vs SFT vs DPO of a registered version on its held-out
documents and test split."""

from typing import Annotated, Any

from zenml import step

from llm_twin.model.evaluation.config import EvaluationConfig
from llm_twin.settings import get_settings
from steps.metadata import record_counts


# Never cached by ZenML: "latest"/"production" and the registry change between runs; the
# evaluation's own fingerprint (stored with the version) is what makes a re-run cheap.
@step(enable_cache=False)
def evaluate_twin(config: EvaluationConfig) -> Annotated[dict[str, Any], "twin_evaluation"]:
    """Evaluate the configured model version (or reuse its identical stored evaluation).

    Args:
        config: What to evaluate and how.
    """
    from llm_twin.model.evaluation.run import evaluate

    result = evaluate(config, get_settings())
    # ZenML metadata values cannot be None: unset details (no judge) are left out.
    details = {key: value for key, value in result["details"].items() if value is not None}
    record_counts(
        {"fingerprint": result["fingerprint"], "details": details},
        evaluation_reused=int(result["reused"]),
        test_rows=result["details"]["rows"],
        heldout_documents=result["details"].get("heldout", {}).get("documents", 0),
        heldout_tokens=result["details"].get("heldout", {}).get("tokens_scored", 0),
        models_evaluated=len(result["metrics"]),
    )
    return result
