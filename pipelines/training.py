"""Training: continue pretraining the base model on the author's documents (pt, when enabled),
fine-tune it on the instruct dataset (SFT), align it on the preference dataset (DPO), register the
result as a new model version.

    poe run-training-pipeline                       # configs/training.yaml: the quickstart run
    poe run-training-pipeline --config configs/training_cpu.yaml    # a longer CPU run
    poe run-training-pipeline --config configs/training_full.yaml   # GPU (QLoRA)

The config is ``llm_twin.model.finetuning.config.TrainingConfig``, validated when it is loaded,
so a bad config fails before any step runs.
"""

from zenml import pipeline

from llm_twin.model.finetuning.config import TrainingConfig
from steps.training.register_twin import register_twin
from steps.training.train_twin import train_twin


@pipeline
def training(config: TrainingConfig) -> None:
    """pt → SFT → DPO → register.

    Args:
        config: ``configs/training*.yaml``.
    """
    run = train_twin(config=config)
    register_twin(training_run=run, config=config)
