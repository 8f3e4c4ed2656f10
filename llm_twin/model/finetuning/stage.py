"""What the SFT and DPO stages share: the tokenizer setup, resumable checkpoints, the result
record written when a stage finishes (so a re-run after a crash skips finished stages), merging
a LoRA adapter into its base model."""

import dataclasses
import json
import shutil
import time
from pathlib import Path
from typing import Any

from loguru import logger

from llm_twin.domain.exceptions import ImproperlyConfigured
from llm_twin.model.finetuning.hardware import HardwarePlan, load_model
from llm_twin.model.prompts import TRAINING_CHAT_TEMPLATE

#: Tokens the training chat template (ChatML) needs in the vocabulary.
CHATML_TOKENS = ("<|im_start|>", "<|im_end|>")
RESULT_FILE = "stage_result.json"


@dataclasses.dataclass
class StageResult:
    """Outcome of one finished stage.

    Attributes:
        stage: ``sft`` or ``dpo``.
        steps: Optimizer steps done.
        train_samples: Training examples (or pairs) used.
        runtime_s: Wall-clock seconds of ``trainer.train`` (this process's part when resumed).
        metrics: Summary numbers (loss_start, loss_end, eval_loss, reward_margin, ...).
        history: Every log record of the trainer (for the curves and the model card).
        adapter_dir: Folder of the trained LoRA adapter.
        merged_dir: Folder of the base model with the adapter merged in.
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


def prepare_tokenizer(path: Path | str) -> Any:
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


def last_checkpoint(folder: Path) -> str | None:
    """The newest ``checkpoint-N`` folder of an interrupted stage, to resume from."""
    from transformers.trainer_utils import get_last_checkpoint

    if not folder.is_dir():
        return None
    return get_last_checkpoint(str(folder))


def train_with_resume(trainer: Any, checkpoints: Path) -> float:
    """Run ``trainer.train``, resuming from the newest checkpoint if any; return seconds."""
    resume = last_checkpoint(checkpoints)
    if resume:
        logger.info("resuming from {}", resume)
    started = time.perf_counter()
    trainer.train(resume_from_checkpoint=resume)
    return time.perf_counter() - started


def merge_adapter(
    base_path: Path | str, adapter_dir: Path, tokenizer: Any, plan: HardwarePlan, target: Path
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


def first_and_last(history: list[dict[str, Any]], key: str) -> tuple[float | None, float | None]:
    """First and last logged value of ``key`` in a trainer's log history."""
    values = [float(entry[key]) for entry in history if key in entry]
    return (values[0], values[-1]) if values else (None, None)
