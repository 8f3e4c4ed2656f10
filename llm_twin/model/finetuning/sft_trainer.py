"""Supervised fine-tuning: TRL ``SFTTrainer`` + a PEFT LoRA adapter on the instruct dataset,
loss on the assistant turns only, then the adapter merged into the base model."""

from typing import TYPE_CHECKING, Any

from loguru import logger

from llm_twin.model.finetuning.config import TrainingConfig
from llm_twin.model.finetuning.stage import StageResult, TrainingStage, first_and_last
from llm_twin.model.finetuning.tracking import Tracker

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedModel, Trainer, TrainingArguments

    from llm_twin.model.finetuning.sft_config import SFTStageConfig


class SFTStage(TrainingStage):
    """The SFT stage: ``SFTTrainer`` on the base model (id or folder) with the conversational
    instruct splits (``messages``, from ``data.sft_splits``) and ``config.sft``; reports the eval
    loss and token rates. Run it with :meth:`TrainingStage.run`."""

    name = "sft"
    label = "SFT"
    unit = "examples"

    def settings(self, config: TrainingConfig) -> "SFTStageConfig":
        """``config.sft``."""
        return config.sft

    def build_trainer(
        self, model: "PreTrainedModel", args: "TrainingArguments", arguments: dict[str, Any]
    ) -> "Trainer":
        """TRL's ``SFTTrainer`` (see :meth:`TrainingStage.build_trainer`)."""
        from trl import SFTTrainer

        return SFTTrainer(model=model, args=args, **arguments)

    def evaluation_metrics(
        self, trainer: "Trainer", test: "Dataset", tracker: Tracker
    ) -> dict[str, float]:
        """The test loss, also sent to the tracker."""
        evaluation = trainer.evaluate(eval_dataset=test)
        loss = float(evaluation["eval_loss"])
        tracker.log_metrics({"eval_loss": loss}, trainer.state.global_step, "sft")
        return {"eval_loss": loss}

    def throughput_metrics(self, history: list[dict[str, Any]], runtime: float) -> dict[str, float]:
        """Tokens trained on and per second (when the trainer logged them)."""
        _, tokens = first_and_last(history, "num_tokens")
        if not tokens:
            return {}
        return {"train_tokens": tokens, "tokens_per_second": tokens / max(runtime, 1e-9)}

    def log_done(self, result: StageResult) -> None:
        """Log the steps and the loss going down."""
        loss_start, loss_end = first_and_last(result.history, "loss")
        logger.info(
            "SFT done: {} steps, loss {:.3f} -> {:.3f}",
            result.steps,
            loss_start or 0,
            loss_end or 0,
        )
