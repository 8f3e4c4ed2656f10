"""Settings of the preference alignment (DPO) stage and their translation to TRL's ``DPOConfig``."""

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class DPOStageConfig(BaseModel):
    """DPO hyperparameters (TRL ``DPOTrainer`` on the preference dataset, on top of the SFT model).

    Attributes:
        enabled: Run this stage; when false the SFT model is the result.
        max_steps: Optimizer steps; ``-1`` trains for ``epochs`` instead.
        epochs: Passes over the training split when ``max_steps`` is ``-1``.
        learning_rate: Peak learning rate (DPO wants it far lower than SFT).
        beta: Strength of the pull towards the reference model (higher: stay closer).
        loss_type: TRL loss name (``sigmoid`` is the DPO paper's loss).
        batch_size: Preference pairs per device per step.
        gradient_accumulation_steps: Batches summed into one optimizer step.
        max_length: Longest prompt + answer in tokens.
        warmup_ratio: Share of steps with a linear learning-rate warm-up.
        lr_scheduler: Learning-rate schedule name.
        max_samples: Use at most this many training (and test) pairs; empty: all.
        logging_steps: Log metrics (loss, rewards/margins, ...) every this many steps.
        save_steps: Write a resumable checkpoint every this many steps.
        eval: Evaluate on the test split at the end of the stage.
    """

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    max_steps: int = Field(default=-1, ge=-1)
    epochs: float = Field(default=1.0, gt=0)
    learning_rate: float = Field(default=5e-6, gt=0, lt=1)
    beta: float = Field(default=0.1, gt=0)
    loss_type: str = "sigmoid"
    batch_size: int = Field(default=2, ge=1)
    gradient_accumulation_steps: int = Field(default=8, ge=1)
    max_length: int = Field(default=1024, ge=16)
    warmup_ratio: float = Field(default=0.1, ge=0, lt=1)
    lr_scheduler: str = "linear"
    max_samples: int | None = Field(default=None, ge=1)
    logging_steps: int = Field(default=1, ge=1)
    save_steps: int = Field(default=50, ge=1)
    eval: bool = True

    @model_validator(mode="after")
    def _steps_or_epochs(self) -> "DPOStageConfig":
        if self.max_steps == 0:
            raise ValueError("max_steps must be -1 (use epochs) or at least 1")
        return self

    def to_trl(self, output_dir: Path, common: dict[str, Any]) -> Any:
        """TRL's ``DPOConfig`` for this stage.

        Args:
            output_dir: Folder for checkpoints.
            common: Hardware and seed arguments shared by both stages (see ``hardware``).
        """
        from trl import DPOConfig

        return DPOConfig(
            output_dir=str(output_dir),
            max_steps=self.max_steps,
            num_train_epochs=self.epochs,
            learning_rate=self.learning_rate,
            beta=self.beta,
            loss_type=[self.loss_type],
            per_device_train_batch_size=self.batch_size,
            per_device_eval_batch_size=self.batch_size,
            gradient_accumulation_steps=self.gradient_accumulation_steps,
            max_length=self.max_length,
            warmup_steps=self.warmup_ratio,
            lr_scheduler_type=self.lr_scheduler,
            logging_steps=self.logging_steps,
            save_steps=self.save_steps,
            **common,
        )
