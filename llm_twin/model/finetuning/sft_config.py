"""Settings of the supervised fine-tuning (SFT) stage and their translation to TRL's
``SFTConfig``."""

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class SFTStageConfig(BaseModel):
    """SFT hyperparameters (TRL ``SFTTrainer`` on the instruct dataset).

    Attributes:
        max_steps: Optimizer steps; ``-1`` trains for ``epochs`` instead.
        epochs: Passes over the training split when ``max_steps`` is ``-1``.
        learning_rate: Peak learning rate of the LoRA parameters.
        batch_size: Examples per device per step.
        gradient_accumulation_steps: Batches summed into one optimizer step.
        max_length: Longest tokenized example; longer ones are truncated.
        packing: Pack several short examples into one ``max_length`` sequence.
        assistant_only_loss: Compute the loss on the answers only (needs the training chat
            template with generation markers, which training sets).
        warmup_ratio: Share of steps with a linear learning-rate warm-up.
        lr_scheduler: Learning-rate schedule name (``linear``, ``cosine``, ``constant``...).
        weight_decay: AdamW weight decay.
        max_samples: Use at most this many training (and test) examples; empty: all.
        logging_steps: Log metrics every this many steps.
        save_steps: Write a resumable checkpoint every this many steps.
        eval: Evaluate on the test split at the end of the stage.
    """

    model_config = ConfigDict(extra="forbid")

    max_steps: int = Field(default=-1, ge=-1)
    epochs: float = Field(default=3.0, gt=0)
    learning_rate: float = Field(default=2e-4, gt=0, lt=1)
    batch_size: int = Field(default=4, ge=1)
    gradient_accumulation_steps: int = Field(default=4, ge=1)
    max_length: int = Field(default=1024, ge=16)
    packing: bool = False
    assistant_only_loss: bool = True
    warmup_ratio: float = Field(default=0.05, ge=0, lt=1)
    lr_scheduler: str = "linear"
    weight_decay: float = Field(default=0.0, ge=0)
    max_samples: int | None = Field(default=None, ge=1)
    logging_steps: int = Field(default=1, ge=1)
    save_steps: int = Field(default=50, ge=1)
    eval: bool = True

    @model_validator(mode="after")
    def _steps_or_epochs(self) -> "SFTStageConfig":
        if self.max_steps == 0:
            raise ValueError("max_steps must be -1 (use epochs) or at least 1")
        return self

    def to_trl(self, output_dir: Path, common: dict[str, Any]) -> Any:
        """TRL's ``SFTConfig`` for this stage.

        Args:
            output_dir: Folder for checkpoints.
            common: Hardware and seed arguments shared by both stages (see ``hardware``).
        """
        from trl import SFTConfig

        return SFTConfig(
            output_dir=str(output_dir),
            max_steps=self.max_steps,
            num_train_epochs=self.epochs,
            learning_rate=self.learning_rate,
            per_device_train_batch_size=self.batch_size,
            per_device_eval_batch_size=self.batch_size,
            gradient_accumulation_steps=self.gradient_accumulation_steps,
            max_length=self.max_length,
            packing=self.packing,
            assistant_only_loss=self.assistant_only_loss,
            warmup_steps=self.warmup_ratio,
            lr_scheduler_type=self.lr_scheduler,
            weight_decay=self.weight_decay,
            logging_steps=self.logging_steps,
            save_steps=self.save_steps,
            **common,
        )
