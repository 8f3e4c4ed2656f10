"""Supervised fine-tuning: TRL ``SFTTrainer`` + a PEFT LoRA adapter on the instruct dataset,
loss on the assistant turns only, then the adapter merged into the base model."""

from pathlib import Path
from typing import TYPE_CHECKING, Any

from loguru import logger

from llm_twin.model.finetuning.config import TrainingConfig
from llm_twin.model.finetuning.hardware import HardwarePlan
from llm_twin.model.finetuning.stage import StageResult, TrainingStage, first_and_last
from llm_twin.model.finetuning.tracking import Tracker

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedModel, PreTrainedTokenizerBase, Trainer, TrainingArguments

    from llm_twin.model.finetuning.sft_config import SFTStageConfig


class SFTStage(TrainingStage):
    """The SFT stage: ``SFTTrainer`` on conversations; reports the eval loss and token rates."""

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


def run_sft(
    base_path: Path | str,
    tokenizer: "PreTrainedTokenizerBase",
    train: "Dataset",
    test: "Dataset | None",
    config: TrainingConfig,
    plan: HardwarePlan,
    folder: Path,
    tracker: Tracker,
) -> StageResult:
    """Fine-tune ``base_path`` on ``train`` and merge the adapter; skip when already done.

    Args:
        base_path: Base model id or folder.
        tokenizer: Tokenizer with the training chat template (``stage.prepare_tokenizer``).
        train: Conversational dataset (``messages``) from ``data.sft_splits``.
        test: Its test split, or None.
        config: The run's config (``config.sft``, ``config.lora``, ``config.seed``).
        plan: Device, precision, quantization.
        folder: The stage's folder: ``checkpoints/``, ``adapter/``, ``merged/``, result record.
        tracker: Where metrics go.
    """
    return SFTStage().run(base_path, tokenizer, train, test, config, plan, folder, tracker)
