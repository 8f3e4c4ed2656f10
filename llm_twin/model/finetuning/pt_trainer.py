"""Continued pretraining (``pt``): causal language modelling on the author's own documents,
before SFT, as TRL/PEFT and LLaMA-Factory do ("pt" stage).

The trainable documents (:mod:`.corpus`: never a document of the instruct test split) are
tokenized, joined with the end-of-sequence token and cut into ``block_size`` blocks
(:func:`.data.pt_splits`); TRL's ``SFTTrainer`` trains on those pre-tokenized blocks with the loss
on every token, either a LoRA adapter merged into the base model afterwards (``method: lora``) or
every weight (``method: full``). SFT then starts from the resulting model.
"""

from typing import TYPE_CHECKING, Any

from loguru import logger

from llm_twin.model.finetuning.config import TrainingConfig
from llm_twin.model.finetuning.stage import StageResult, TrainingStage, first_and_last
from llm_twin.model.finetuning.tracking import Tracker

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedModel, Trainer, TrainingArguments

    from llm_twin.model.finetuning.data import PackedCorpus
    from llm_twin.model.finetuning.pt_config import PTStageConfig


class PTStage(TrainingStage):
    """The pt stage: ``SFTTrainer`` on the packed blocks of the author's documents with
    ``config.pt``; reports the evaluation loss on the blocks set aside, the tokens and documents
    trained on. Run it with :meth:`TrainingStage.run` on ``corpus.train`` / ``corpus.test``.

    Args:
        corpus: The packed corpus (for the document and token counts of the metrics).
    """

    name = "pt"
    label = "PT"
    unit = "blocks"

    def __init__(self, corpus: "PackedCorpus") -> None:
        self.corpus = corpus

    def settings(self, config: TrainingConfig) -> "PTStageConfig":
        """``config.pt``."""
        return config.pt

    def peft_config(self, config: TrainingConfig) -> Any:
        """The stage's LoRA config (``pt.lora``, else ``lora``), or None for ``method: full``."""
        settings = config.pt.lora_settings(config.lora)
        return settings.to_peft() if settings is not None else None

    def build_trainer(
        self, model: "PreTrainedModel", args: "TrainingArguments", arguments: dict[str, Any]
    ) -> "Trainer":
        """TRL's ``SFTTrainer`` on ``input_ids`` blocks (its language-modelling path)."""
        from trl import SFTTrainer

        return SFTTrainer(model=model, args=args, **arguments)

    def evaluation_metrics(
        self, trainer: "Trainer", test: "Dataset", tracker: Tracker
    ) -> dict[str, float]:
        """The loss on the blocks set aside, also sent to the tracker."""
        evaluation = trainer.evaluate(eval_dataset=test)
        loss = float(evaluation["eval_loss"])
        tracker.log_metrics({"eval_loss": loss}, trainer.state.global_step, self.name)
        return {"eval_loss": loss}

    def throughput_metrics(self, history: list[dict[str, Any]], runtime: float) -> dict[str, float]:
        """Documents and tokens of the corpus; tokens trained on and per second."""
        metrics: dict[str, float] = {
            "train_documents": self.corpus.documents,
            "corpus_tokens": self.corpus.train_tokens,
        }
        _, tokens = first_and_last(history, "num_tokens")
        if tokens:
            metrics |= {"train_tokens": tokens, "tokens_per_second": tokens / max(runtime, 1e-9)}
        return metrics

    def log_done(self, result: StageResult) -> None:
        """Log the steps and the loss going down."""
        loss_start, loss_end = first_and_last(result.history, "loss")
        logger.info(
            "PT done: {} steps on {} documents, loss {:.3f} -> {:.3f}",
            result.steps,
            self.corpus.documents,
            loss_start or 0,
            loss_end or 0,
        )
