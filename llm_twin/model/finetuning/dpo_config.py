"""Settings of the preference alignment (DPO) stage and their translation to TRL's ``DPOConfig``."""

from typing import TYPE_CHECKING, Any

from pydantic import Field

from llm_twin.model.finetuning.stage_config import StageSettings

if TYPE_CHECKING:
    from trl import DPOConfig


class DPOStageConfig(StageSettings):
    """DPO hyperparameters (TRL ``DPOTrainer`` on the preference dataset, on top of the SFT model).

    Besides the shared :class:`StageSettings` (with DPO defaults: 1 epoch, learning rate 5e-6,
    far lower than SFT, batch 2 pairs x 8 accumulation, 10 % warm-up):

    Attributes:
        enabled: Run this stage; when false the SFT model is the result.
        beta: Strength of the pull towards the reference model (higher: stay closer).
        loss_type: TRL loss name (``sigmoid`` is the DPO paper's loss).
    """

    enabled: bool = True
    epochs: float = Field(default=1.0, gt=0)
    learning_rate: float = Field(default=5e-6, gt=0, lt=1)
    beta: float = Field(default=0.1, gt=0)
    loss_type: str = "sigmoid"
    batch_size: int = Field(default=2, ge=1)
    gradient_accumulation_steps: int = Field(default=8, ge=1)
    warmup_ratio: float = Field(default=0.1, ge=0, lt=1)

    def trl_config_class(self) -> "type[DPOConfig]":
        """TRL's ``DPOConfig``."""
        from trl import DPOConfig

        return DPOConfig

    def stage_arguments(self) -> dict[str, Any]:
        """The DPO strength and loss."""
        return {"beta": self.beta, "loss_type": [self.loss_type]}
