"""Settings of the continued-pretraining (``pt``) stage and their translation to TRL's
``SFTConfig`` (the stage trains with ``SFTTrainer`` on pre-tokenized blocks of plain text)."""

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator

from llm_twin.domain.types import DataCategory
from llm_twin.model.finetuning.stage_config import LoraSettings, StageSettings

if TYPE_CHECKING:
    from trl import SFTConfig


class PTStageConfig(StageSettings):
    """Continued pretraining: causal language modelling on the author's cleaned documents of the
    train split (never a document of the instruct test split), packed into blocks, before SFT.

    Besides the shared :class:`StageSettings` (with pretraining defaults: 1 epoch, learning rate
    2e-4, batch 4 blocks x 4 accumulation, 5 % warm-up; ``max_length`` is not used: the blocks are
    ``block_size`` long):

    Attributes:
        enabled: Run this stage; when false SFT starts from the base model.
        method: ``lora`` trains a LoRA adapter (``lora``, or the run's ``lora`` settings) and
            merges it into the base model; ``full`` trains every weight.
        block_size: Tokens per training block: the documents are tokenized, joined with the
            end-of-sequence token between them and cut into blocks of this length.
        lora: LoRA settings of this stage; empty: the run's ``lora`` settings.
        categories: Only documents of these categories (``articles``, ``posts``,
            ``repositories``); empty: all.
        eval_blocks: Blocks set aside (seeded pick) for the stage's evaluation loss instead of
            training on them; 0: no evaluation.
        documents_file: A JSON Lines file of cleaned documents (relative: under ``DATA_DIR``)
            to read instead of the feature store; the SageMaker launcher ships the corpus this
            way. Empty: the feature store.
        weight_decay: AdamW weight decay.
    """

    enabled: bool = False
    method: Literal["lora", "full"] = "lora"
    block_size: int = Field(default=1024, ge=16, le=131072)
    lora: LoraSettings | None = None
    categories: list[str] = Field(default_factory=list)
    eval_blocks: int = Field(default=4, ge=0)
    documents_file: str = ""
    weight_decay: float = Field(default=0.0, ge=0)
    # Not used (the blocks are block_size long); excluded from dumps so a saved config reloads.
    max_length: int | None = Field(default=None, exclude=True)
    epochs: float = Field(default=1.0, gt=0)
    learning_rate: float = Field(default=2e-4, gt=0, lt=1)
    warmup_ratio: float = Field(default=0.05, ge=0, lt=1)

    @field_validator("categories")
    @classmethod
    def _known_categories(cls, values: list[str]) -> list[str]:
        return [DataCategory.parse(value).value for value in values]

    @model_validator(mode="after")
    def _block_size_not_max_length(self) -> "PTStageConfig":
        if self.max_length is not None:
            raise ValueError("the pt stage trains on fixed blocks: set block_size, not max_length")
        if self.method == "full" and self.lora is not None:
            raise ValueError("lora settings apply to method 'lora' only (method is 'full')")
        return self

    def lora_settings(self, default: LoraSettings) -> LoraSettings | None:
        """The LoRA settings this stage trains with, or None for full fine-tuning.

        Args:
            default: The run's ``lora`` settings (used when the stage names none).
        """
        if self.method == "full":
            return None
        return self.lora or default

    def trl_config_class(self) -> "type[SFTConfig]":
        """TRL's ``SFTConfig``."""
        from trl import SFTConfig

        return SFTConfig

    def trl_arguments(self, output_dir: Path, common: dict[str, Any]) -> dict[str, Any]:
        """The shared arguments with ``max_length`` = ``block_size`` (see
        :meth:`StageSettings.trl_arguments`).

        Args:
            output_dir: Folder for checkpoints.
            common: Hardware and seed arguments shared by every stage (see ``hardware``).
        """
        return super().trl_arguments(output_dir, common) | {"max_length": self.block_size}

    def stage_arguments(self) -> dict[str, Any]:
        """Plain language modelling on the whole block: no packing by TRL (the blocks are packed
        already), loss on every token."""
        return {
            "packing": False,
            "assistant_only_loss": False,
            "completion_only_loss": False,
            "weight_decay": self.weight_decay,
        }
