"""Training: fine-tune the base model on the instruct dataset (SFT), align it on the preference
dataset (DPO), register the result as a new model version.

    poe run-training-pipeline                       # configs/training.yaml: CPU smoke run
    poe run-training-pipeline --config configs/training_full.yaml   # GPU

The parameters are those of ``llm_twin.model.finetuning.config.TrainingConfig``; they are
validated when the pipeline is built, so a bad config fails before any step runs.
"""

from typing import Any

from zenml import pipeline

from llm_twin.model.finetuning.config import OFFLINE_BASE_MODEL, parse_config
from steps.training.register_twin import register_twin
from steps.training.train_twin import train_twin


@pipeline
def training(
    model_name: str = "llm-twin",
    base_model: str = OFFLINE_BASE_MODEL,
    instruct_dataset_version: str = "latest",
    preference_dataset_version: str = "latest",
    device: str = "auto",
    precision: str = "auto",
    quantization: str = "none",
    gradient_checkpointing: bool | str = "auto",
    seed: int = 42,
    lora: dict[str, Any] | None = None,
    sft: dict[str, Any] | None = None,
    dpo: dict[str, Any] | None = None,
    tracking: str = "comet",
    promote_to: str = "none",
    push_to_hub: str = "",
    force: bool = False,
) -> None:
    """SFT → DPO → register. Every argument is a ``TrainingConfig`` field (see its docs)."""
    values = {
        "model_name": model_name,
        "base_model": base_model,
        "instruct_dataset_version": instruct_dataset_version,
        "preference_dataset_version": preference_dataset_version,
        "device": device,
        "precision": precision,
        "quantization": quantization,
        "gradient_checkpointing": gradient_checkpointing,
        "seed": seed,
        "lora": lora or {},
        "sft": sft or {},
        "dpo": dpo or {},
        "tracking": tracking,
        "promote_to": promote_to,
        "push_to_hub": push_to_hub,
        "force": force,
    }
    config = parse_config(values).model_dump(mode="json")
    run = train_twin(config=config)
    register_twin(training_run=run, config=config)
