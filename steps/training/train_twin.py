"""Training step: continued pretraining (when enabled), SFT then DPO on the configured datasets (or
reuse the identical run)."""

from typing import Annotated, Any

from loguru import logger
from zenml import step

from llm_twin.domain.exceptions import ImproperlyConfigured
from llm_twin.model.finetuning.config import TrainingConfig
from llm_twin.model.registry import ModelRegistry, registry_root
from llm_twin.settings import Settings, get_settings
from steps.metadata import record_counts

#: Summary metrics reported in the run's JSON ``counts`` (as numbers).
REPORTED_METRICS = (
    "pt_steps",
    "pt_train_documents",
    "pt_train_tokens",
    "pt_loss_start",
    "pt_loss_end",
    "pt_eval_loss",
    "pt_seconds_per_step",
    "sft_steps",
    "sft_train_samples",
    "sft_loss_start",
    "sft_loss_end",
    "sft_eval_loss",
    "sft_seconds_per_step",
    "sft_tokens_per_second",
    "dpo_steps",
    "dpo_train_samples",
    "dpo_loss_start",
    "dpo_loss_end",
    "dpo_reward_margin_start",
    "dpo_reward_margin_end",
    "dpo_reward_accuracy_end",
    "dpo_seconds_per_step",
)


def check_hub_push(config: TrainingConfig, settings: Settings) -> None:
    """Fail before training when a Hub push is configured but cannot happen."""
    if not config.push_to_hub:
        return
    if settings.training.huggingface_access_token is None:
        raise ImproperlyConfigured("push_to_hub is set but HUGGINGFACE_ACCESS_TOKEN is not")
    if settings.runtime.offline:
        raise ImproperlyConfigured("push_to_hub is set but OFFLINE=true: set OFFLINE=false")


# Never cached: the datasets behind "latest" and the registry change between runs; the
# fingerprint check below is what makes a re-run cheap.
@step(enable_cache=False)
def train_twin(config: TrainingConfig) -> Annotated[dict[str, Any], "training_run"]:
    """Train the twin as ``config`` says; return the outcome (``reused_version`` set when the
    registry already holds a version trained on exactly this config, data and base model).

    Args:
        config: The run's training config.
    """
    from llm_twin.model.finetuning.run import prepare_run, run_training

    settings = get_settings()
    check_hub_push(config, settings)
    inputs = prepare_run(config, settings)
    registry = ModelRegistry(registry_root(settings), config.model_name)
    existing = registry.find_fingerprint(inputs.fingerprint)
    if existing is not None and not config.force:
        logger.info(
            "version {} was trained on this exact config and data: reusing it (force: true "
            "trains again)",
            existing.version,
        )
        record_counts({"fingerprint": inputs.fingerprint}, reused=1)
        return {"reused_version": existing.version, "fingerprint": inputs.fingerprint}
    outcome = run_training(config, settings, inputs)
    numbers = {key: outcome.metrics[key] for key in REPORTED_METRICS if key in outcome.metrics}
    record_counts(
        {
            "fingerprint": outcome.fingerprint,
            "device": outcome.device,
            "dataset_versions": outcome.dataset_versions,
            "comet": outcome.comet,
        },
        reused=0,
        training_seconds=outcome.duration_s,
        **numbers,
    )
    return {"reused_version": None, **outcome.to_dict()}
