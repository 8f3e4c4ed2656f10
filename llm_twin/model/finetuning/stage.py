"""What the training stages (continued pretraining, SFT, DPO) share: the tokenizer setup,
resumable checkpoints, the result record written when a stage finishes (so a re-run after a crash
skips finished stages), merging a LoRA adapter into its base model, and the stage run itself
(:class:`TrainingStage`: seed, load, train with resume, evaluate, summarise, save and merge),
which ``pt_trainer``, ``sft_trainer`` and ``dpo_trainer`` specialise with their TRL trainer, their
data and their metrics."""

import dataclasses
import json
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loguru import logger

from llm_twin.domain.exceptions import ImproperlyConfigured
from llm_twin.domain.prompts import TRAINING_CHAT_TEMPLATE
from llm_twin.model.finetuning.hardware import HardwarePlan, load_model, peak_memory_mb, set_seed
from llm_twin.model.finetuning.tracking import Tracker, metrics_callback

if TYPE_CHECKING:
    from datasets import Dataset
    from transformers import PreTrainedModel, PreTrainedTokenizerBase, Trainer, TrainingArguments

    from llm_twin.model.finetuning.config import TrainingConfig
    from llm_twin.model.finetuning.stage_config import StageSettings

#: Tokens the training chat template (ChatML) needs in the vocabulary.
CHATML_TOKENS = ("<|im_start|>", "<|im_end|>")
RESULT_FILE = "stage_result.json"


@dataclasses.dataclass
class StageResult:
    """Outcome of one finished stage.

    Attributes:
        stage: ``pt``, ``sft`` or ``dpo``.
        steps: Optimizer steps done.
        train_samples: Training examples (pairs, blocks) used.
        runtime_s: Wall-clock seconds of ``trainer.train`` (this process's part when resumed).
        metrics: Summary numbers (loss_start, loss_end, eval_loss, reward_margin, ...).
        history: Every log record of the trainer (for the curves and the model card).
        adapter_dir: Folder of the trained LoRA adapter (empty after full fine-tuning).
        merged_dir: Folder of the base model with the adapter merged in (or of the fully
            fine-tuned model).
    """

    stage: str
    steps: int
    train_samples: int
    runtime_s: float
    metrics: dict[str, float]
    history: list[dict[str, Any]]
    adapter_dir: str
    merged_dir: str

    def save(self, folder: Path) -> None:
        """Write the record (last, so its presence means the stage is complete)."""
        (folder / RESULT_FILE).write_text(json.dumps(dataclasses.asdict(self), indent=1))

    @classmethod
    def load(cls, folder: Path) -> "StageResult | None":
        """The record of a finished stage in ``folder`` whose outputs still exist, else None."""
        path = folder / RESULT_FILE
        if not path.is_file():
            return None
        result = cls(**json.loads(path.read_text()))
        if not (Path(result.merged_dir) / "config.json").is_file():
            return None
        return result


def prepare_tokenizer(path: Path | str) -> "PreTrainedTokenizerBase":
    """The base model's tokenizer with the training chat template and a padding token.

    Raises:
        ImproperlyConfigured: the vocabulary lacks the ChatML tokens the template uses.
    """
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(path))
    vocabulary = tokenizer.get_vocab()
    missing = [token for token in CHATML_TOKENS if token not in vocabulary]
    if missing:
        raise ImproperlyConfigured(
            f"the tokenizer of {path} lacks {missing}: the twin's chat template is ChatML "
            "(SmolLM2, Qwen...); use a base model whose vocabulary has these tokens"
        )
    tokenizer.chat_template = TRAINING_CHAT_TEMPLATE
    # Answers end with <|im_end|>: make it the EOS so generation stops there.
    tokenizer.eos_token = "<|im_end|>"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _complete(checkpoint: Path) -> bool:
    """True when the trainer finished writing ``checkpoint``: its ``trainer_state.json``, written
    after the weights, optimizer and RNG states, is there and whole."""
    try:
        json.loads((checkpoint / "trainer_state.json").read_text())
    except (OSError, ValueError):
        return False
    return True


def last_checkpoint(folder: Path) -> str | None:
    """The newest complete ``checkpoint-N`` folder of an interrupted stage, to resume from.

    A process killed while saving (SIGKILL, a lost spot instance) leaves a partial newest
    checkpoint: it is removed, so the stage resumes from the one before.
    """
    if not folder.is_dir():
        return None
    found = [p for p in folder.glob("checkpoint-*") if p.is_dir() and p.name[11:].isdigit()]
    for checkpoint in sorted(found, key=lambda path: int(path.name[11:]), reverse=True):
        if _complete(checkpoint):
            return str(checkpoint)
        logger.warning("removing the incomplete checkpoint {} (killed while saving)", checkpoint)
        shutil.rmtree(checkpoint, ignore_errors=True)
    return None


def train_with_resume(trainer: "Trainer", checkpoints: Path) -> float:
    """Run ``trainer.train``, resuming from the newest checkpoint if any; return seconds."""
    resume = last_checkpoint(checkpoints)
    if resume:
        logger.info("resuming from {}", resume)
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=resume)
    return time.perf_counter() - started


def merge_adapter(
    base_path: Path | str,
    adapter_dir: Path,
    tokenizer: "PreTrainedTokenizerBase",
    plan: HardwarePlan,
    target: Path,
) -> Path:
    """Merge a LoRA adapter into an unquantized copy of its base model and save it with the
    tokenizer (and its chat template) as a plain Hugging Face folder.

    Args:
        base_path: The model the adapter was trained on (unquantized weights).
        adapter_dir: The saved adapter.
        tokenizer: The training tokenizer (saved alongside).
        plan: Device and dtype (merging runs in the compute dtype, never 4-bit).
        target: Output folder (replaced atomically).
    """
    from peft import PeftModel

    base = load_model(base_path, plan, quantize=False)
    merged = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
    merged.config.use_cache = True
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    merged.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    del merged, base
    return target


def _has_adapter(model: "PreTrainedModel") -> bool:
    """True for a PEFT model (a LoRA adapter on a frozen base)."""
    from peft import PeftModel

    return isinstance(model, PeftModel)


def first_and_last(history: list[dict[str, Any]], key: str) -> tuple[float | None, float | None]:
    """First and last logged value of ``key`` in a trainer's log history."""
    values = [float(entry[key]) for entry in history if key in entry]
    return (values[0], values[-1]) if values else (None, None)


def or_nan(value: float | None) -> float:
    """``value``, or NaN when the trainer never logged it (keeps the metrics numeric)."""
    return value if value is not None else float("nan")


class TrainingStage:
    """One training stage run end to end (a LoRA adapter merged into its base model, unless the
    stage trains every weight); subclasses name the TRL trainer and add their metrics.

    Attributes:
        name: ``pt``, ``sft`` or ``dpo``: the metric prefix and the result's ``stage``.
        label: How logs name the stage (``SFT``).
        unit: What one training row is, for the logs (``examples``, ``pairs``, ``blocks``).
    """

    name = ""
    label = ""
    unit = "examples"

    def settings(self, config: "TrainingConfig") -> "StageSettings":
        """This stage's part of the run config (``config.pt``, ``config.sft``, ``config.dpo``)."""
        raise NotImplementedError

    def peft_config(self, config: "TrainingConfig") -> Any:
        """The ``peft.LoraConfig`` the stage trains (``config.lora``), or None to train every
        weight.

        Args:
            config: The run's config.
        """
        return config.lora.to_peft()

    def build_trainer(
        self,
        model: "PreTrainedModel",
        args: "TrainingArguments",
        arguments: dict[str, Any],
    ) -> "Trainer":
        """The TRL trainer of this stage.

        Args:
            model: The model to train (loaded for the planned device).
            args: The stage's TRL config (``settings(config).to_trl(...)``).
            arguments: The keyword arguments every stage's trainer takes (datasets, tokenizer,
                PEFT config, callbacks).
        """
        raise NotImplementedError

    def evaluation_metrics(
        self, trainer: "Trainer", test: "Dataset", tracker: Tracker
    ) -> dict[str, float]:
        """Metrics of the final evaluation on the test split.

        Args:
            trainer: The trained trainer.
            test: The test split.
            tracker: Where metrics go.
        """
        return {}

    def curve_metrics(self, history: list[dict[str, Any]]) -> dict[str, float]:
        """Stage-specific start/end values read from the trainer's log history."""
        return {}

    def throughput_metrics(self, history: list[dict[str, Any]], runtime: float) -> dict[str, float]:
        """Token counts and rates, for stages whose trainer logs ``num_tokens``."""
        return {}

    def log_done(self, result: StageResult) -> None:
        """Log the finished stage's headline numbers."""
        logger.info("{} done: {} steps", self.label, result.steps)

    def run(
        self,
        model_path: Path | str,
        tokenizer: "PreTrainedTokenizerBase",
        train: "Dataset",
        test: "Dataset | None",
        config: "TrainingConfig",
        plan: HardwarePlan,
        folder: Path,
        tracker: Tracker,
    ) -> StageResult:
        """Train the stage on ``model_path`` (a LoRA adapter, then merged into it, or every
        weight); skip it when already done.

        Args:
            model_path: The model trained (base model id or folder, or the previous stage's
                merged folder).
            tokenizer: Tokenizer with the training chat template (``prepare_tokenizer``).
            train: The training split (``data.pt_splits``, ``data.sft_splits``,
                ``data.dpo_splits``).
            test: Its test split, or None.
            config: The run's config (this stage's settings, ``config.lora``, ``config.seed``).
            plan: Device, precision, quantization.
            folder: The stage's folder: ``checkpoints/``, ``adapter/``, ``merged/`` (or
                ``model/`` after full fine-tuning), result record.
            tracker: Where metrics go.
        """
        finished = StageResult.load(folder)
        if finished is not None:
            logger.info("{} already finished in {}: reusing it", self.label, folder)
            return finished
        settings = self.settings(config)
        set_seed(config.seed)
        checkpoints = folder / "checkpoints"
        args = settings.to_trl(checkpoints, plan.trainer_arguments(config.seed))
        model = load_model(model_path, plan)
        trainer = self.build_trainer(
            model,
            args,
            {
                "train_dataset": train,
                "processing_class": tokenizer,
                "peft_config": self.peft_config(config),
                "callbacks": [metrics_callback(tracker, self.name)],
            },
        )
        logger.info("{}: {} {} on {} ({})", self.label, len(train), self.unit, *plan.described)
        runtime = train_with_resume(trainer, checkpoints)
        history = list(trainer.state.log_history)
        metrics: dict[str, float] = {}
        if settings.eval and test is not None:
            metrics.update(self.evaluation_metrics(trainer, test, tracker))
        steps = int(trainer.state.global_step)
        metrics.update(self._summary(history, runtime, steps, plan))
        adapter_dir, merged = self.save_trained(trainer, tokenizer, folder)
        del trainer, model
        if adapter_dir is not None:
            merged = merge_adapter(model_path, adapter_dir, tokenizer, plan, folder / "merged")
        result = StageResult(
            stage=self.name,
            steps=steps,
            train_samples=len(train),
            runtime_s=runtime,
            metrics=metrics,
            history=history,
            adapter_dir=str(adapter_dir) if adapter_dir else "",
            merged_dir=str(merged),
        )
        result.save(folder)
        self.log_done(result)
        return result

    def save_trained(
        self, trainer: "Trainer", tokenizer: "PreTrainedTokenizerBase", folder: Path
    ) -> tuple[Path | None, Path | None]:
        """Save what the stage trained: ``(adapter folder, None)`` for a LoRA adapter (merged
        afterwards, once the trainer is freed), ``(None, model folder)`` when every weight was
        trained (the model saved whole with the tokenizer).

        Args:
            trainer: The trained trainer.
            tokenizer: The training tokenizer.
            folder: The stage's folder.
        """
        if _has_adapter(trainer.model):
            adapter_dir = folder / "adapter"
            trainer.save_model(str(adapter_dir))
            return adapter_dir, None
        target = folder / "model"
        staging = target.with_name(target.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        trainer.model.config.use_cache = True
        trainer.save_model(str(staging))
        tokenizer.save_pretrained(staging)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
        return None, target

    def _summary(
        self, history: list[dict[str, Any]], runtime: float, steps: int, plan: HardwarePlan
    ) -> dict[str, float]:
        loss_start, loss_end = first_and_last(history, "loss")
        return (
            {"loss_start": or_nan(loss_start), "loss_end": or_nan(loss_end)}
            | self.curve_metrics(history)
            | {
                "seconds_per_step": runtime / max(steps, 1),
                "peak_memory_mb": peak_memory_mb(plan.device),
            }
            | self.throughput_metrics(history, runtime)
        )
