"""Preference alignment: TRL ``DPOTrainer`` with a fresh LoRA adapter on the SFT model.

``ref_model=None`` + ``peft_config``: the reference policy is the SFT model itself with the
adapter disabled, so no second copy of the weights is held in memory.
"""

from typing import TYPE_CHECKING, Any

from loguru import logger

from llm_twin.model.finetuning.config import TrainingConfig
from llm_twin.model.finetuning.stage import StageResult, TrainingStage, first_and_last, or_nan
from llm_twin.model.finetuning.tracking import Tracker

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedModel, Trainer, TrainingArguments

    from llm_twin.model.finetuning.dpo_config import DPOStageConfig

#: Keys of DPO's final evaluation kept in the stage's metrics (``/`` becomes ``_``).
EVALUATION_KEYS = ("eval_loss", "eval_rewards/margins", "eval_rewards/accuracies")


class DPOStage(TrainingStage):
    """The DPO stage: ``DPOTrainer`` on the merged SFT model with the conversational preference
    splits (``prompt``/``chosen``/``rejected``, from ``data.dpo_splits``) and ``config.dpo``;
    reports reward margins and accuracy. Run it with :meth:`TrainingStage.run`."""

    name = "dpo"
    label = "DPO"
    unit = "pairs"

    def settings(self, config: TrainingConfig) -> "DPOStageConfig":
        """``config.dpo``."""
        return config.dpo

    def build_trainer(
        self, model: "PreTrainedModel", args: "TrainingArguments", arguments: dict[str, Any]
    ) -> "Trainer":
        """TRL's ``DPOTrainer`` with the adapter-disabled model as reference."""
        from trl import DPOTrainer

        return DPOTrainer(model=model, ref_model=None, args=args, **arguments)

    def evaluation_metrics(
        self, trainer: "Trainer", test: "Dataset", tracker: Tracker
    ) -> dict[str, float]:
        """The test loss, reward margin and reward accuracy."""
        evaluation = trainer.evaluate(eval_dataset=test)
        return {
            key.replace("/", "_"): float(evaluation[key])
            for key in EVALUATION_KEYS
            if key in evaluation
        }

    def curve_metrics(self, history: list[dict[str, Any]]) -> dict[str, float]:
        """First and last reward margin, last reward accuracy."""
        margin_start, margin_end = first_and_last(history, "rewards/margins")
        _, accuracy = first_and_last(history, "rewards/accuracies")
        return {
            "reward_margin_start": or_nan(margin_start),
            "reward_margin_end": or_nan(margin_end),
            "reward_accuracy_end": or_nan(accuracy),
        }

    def log_done(self, result: StageResult) -> None:
        """Log the steps and the final reward margin."""
        _, margin_end = first_and_last(result.history, "rewards/margins")
        logger.info("DPO done: {} steps, reward margin {}", result.steps, margin_end)
