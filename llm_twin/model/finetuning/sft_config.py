"""Settings of the supervised fine-tuning (SFT) stage and their translation to TRL's
``SFTConfig``."""

from typing import TYPE_CHECKING, Any

from pydantic import Field

from llm_twin.model.finetuning.stage_config import StageSettings

if TYPE_CHECKING:
    from trl import SFTConfig


class SFTStageConfig(StageSettings):
    """SFT hyperparameters (TRL ``SFTTrainer`` on the instruct dataset).

    Besides the shared :class:`StageSettings` (with SFT defaults: 3 epochs, learning rate 2e-4,
    batch 4 x 4 accumulation, 5 % warm-up):

    Attributes:
        packing: Pack several short examples into one ``max_length`` sequence.
        assistant_only_loss: Compute the loss on the answers only (needs the training chat
            template with generation markers, which training sets).
        weight_decay: AdamW weight decay.
    """

    epochs: float = Field(default=3.0, gt=0)
    learning_rate: float = Field(default=2e-4, gt=0, lt=1)
    batch_size: int = Field(default=4, ge=1)
    gradient_accumulation_steps: int = Field(default=4, ge=1)
    warmup_ratio: float = Field(default=0.05, ge=0, lt=1)
    packing: bool = False
    assistant_only_loss: bool = True
    weight_decay: float = Field(default=0.0, ge=0)

    def trl_config_class(self) -> "type[SFTConfig]":
        """TRL's ``SFTConfig``."""
        from trl import SFTConfig

        return SFTConfig

    def stage_arguments(self) -> dict[str, Any]:
        """Packing, answer-only loss, weight decay."""
        return {
            "packing": self.packing,
            "assistant_only_loss": self.assistant_only_loss,
            "weight_decay": self.weight_decay,
        }
