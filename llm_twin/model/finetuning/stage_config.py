"""What the stage settings share (continued pretraining, SFT, DPO): the LoRA adapter settings,
the optimisation schedule, the logging and checkpoint cadence, and its translation to the
arguments every TRL config class takes.

Each stage's own module (``pt_config.py``, ``sft_config.py``, ``dpo_config.py``, after TRL's
``SFTConfig`` / ``DPOConfig``) adds its fields and defaults and names the TRL class.
"""

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

if TYPE_CHECKING:
    from transformers import TrainingArguments


class LoraSettings(BaseModel):
    """PEFT LoRA adapter settings (each LoRA stage trains its own adapter with them).

    Attributes:
        r: Rank of the update matrices.
        alpha: Scaling numerator (``lora_alpha``); the update is scaled by ``alpha / r``.
        dropout: Dropout on the adapter input.
        target_modules: Module names to adapt, or ``all-linear`` for every linear layer but the
            output head.
    """

    model_config = ConfigDict(extra="forbid")

    r: int = Field(default=16, ge=1, le=1024)
    alpha: int = Field(default=32, ge=1)
    dropout: float = Field(default=0.05, ge=0, lt=1)
    target_modules: list[str] | Literal["all-linear"] = "all-linear"

    def to_peft(self) -> Any:
        """The ``peft.LoraConfig`` for a causal LM."""
        from peft import LoraConfig

        return LoraConfig(
            r=self.r,
            lora_alpha=self.alpha,
            lora_dropout=self.dropout,
            target_modules=self.target_modules,
            bias="none",
            task_type="CAUSAL_LM",
        )


class StageSettings(BaseModel):
    """Hyperparameters every stage has (each stage sets its own defaults).

    Attributes:
        max_steps: Optimizer steps; ``-1`` trains for ``epochs`` instead.
        epochs: Passes over the training split when ``max_steps`` is ``-1``.
        learning_rate: Peak learning rate of the LoRA parameters.
        batch_size: Examples (or preference pairs) per device per step.
        gradient_accumulation_steps: Batches summed into one optimizer step.
        max_length: Longest tokenized example; longer ones are truncated.
        warmup_ratio: Share of steps with a linear learning-rate warm-up.
        lr_scheduler: Learning-rate schedule name (``linear``, ``cosine``, ``constant``...).
        max_samples: Use at most this many training (and test) examples; empty: all.
        logging_steps: Log metrics every this many steps.
        save_steps: Write a resumable checkpoint every this many steps.
        eval: Evaluate on the test split at the end of the stage.
    """

    model_config = ConfigDict(extra="forbid")

    max_steps: int = Field(default=-1, ge=-1)
    epochs: float = Field(default=1.0, gt=0)
    learning_rate: float = Field(default=2e-4, gt=0, lt=1)
    batch_size: int = Field(default=4, ge=1)
    gradient_accumulation_steps: int = Field(default=4, ge=1)
    max_length: int = Field(default=1024, ge=16)
    warmup_ratio: float = Field(default=0.05, ge=0, lt=1)
    lr_scheduler: str = "linear"
    max_samples: int | None = Field(default=None, ge=1)
    logging_steps: int = Field(default=1, ge=1)
    save_steps: int = Field(default=50, ge=1)
    eval: bool = True

    @model_validator(mode="after")
    def _steps_or_epochs(self) -> "StageSettings":
        if self.max_steps == 0:
            raise ValueError("max_steps must be -1 (use epochs) or at least 1")
        return self

    def trl_arguments(self, output_dir: Path, common: dict[str, Any]) -> dict[str, Any]:
        """The keyword arguments of the TRL config that every stage passes the same way.

        Args:
            output_dir: Folder for checkpoints.
            common: Hardware and seed arguments shared by every stage (see ``hardware``).
        """
        return {
            "output_dir": str(output_dir),
            "max_steps": self.max_steps,
            "num_train_epochs": self.epochs,
            "learning_rate": self.learning_rate,
            "per_device_train_batch_size": self.batch_size,
            "per_device_eval_batch_size": self.batch_size,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
            "max_length": self.max_length,
            "warmup_steps": self.warmup_ratio,
            "lr_scheduler_type": self.lr_scheduler,
            "logging_steps": self.logging_steps,
            "save_steps": self.save_steps,
            **common,
        }

    def trl_config_class(self) -> "type[TrainingArguments]":
        """The TRL config class of the stage (``SFTConfig``, ``DPOConfig``; imported lazily)."""
        raise NotImplementedError(f"{type(self).__name__} names no TRL config class")

    def stage_arguments(self) -> dict[str, Any]:
        """The TRL config arguments only this stage has."""
        return {}

    def to_trl(self, output_dir: Path, common: dict[str, Any]) -> "TrainingArguments":
        """The stage's TRL config object (``SFTConfig``, ``DPOConfig``).

        Args:
            output_dir: Folder for checkpoints.
            common: Hardware and seed arguments shared by every stage (see ``hardware``).
        """
        return self.trl_config_class()(
            **self.stage_arguments(), **self.trl_arguments(output_dir, common)
        )
