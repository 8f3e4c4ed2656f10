"""Supervised fine-tuning: TRL ``SFTTrainer`` + a PEFT LoRA adapter on the instruct dataset,
loss on the assistant turns only, then the adapter merged into the base model."""

from pathlib import Path
from typing import Any

from loguru import logger

from llm_twin.model.finetuning.config import TrainingConfig
from llm_twin.model.finetuning.hardware import HardwarePlan, load_model, peak_memory_mb, set_seed
from llm_twin.model.finetuning.stage import (
    StageResult,
    first_and_last,
    merge_adapter,
    train_with_resume,
)
from llm_twin.model.finetuning.tracking import Tracker, metrics_callback


def run_sft(
    base_path: Path | str,
    tokenizer: Any,
    train: Any,
    test: Any | None,
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
    finished = StageResult.load(folder)
    if finished is not None:
        logger.info("SFT already finished in {}: reusing it", folder)
        return finished
    from trl import SFTTrainer

    set_seed(config.seed)
    checkpoints = folder / "checkpoints"
    args = config.sft.to_trl(checkpoints, plan.trainer_arguments(config.seed))
    model = load_model(base_path, plan)
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=train,
        processing_class=tokenizer,
        peft_config=config.lora.to_peft(),
        callbacks=[metrics_callback(tracker, "sft")],
    )
    logger.info("SFT: {} examples on {} ({})", len(train), plan.device_name, plan.precision)
    runtime = train_with_resume(trainer, checkpoints)
    history = list(trainer.state.log_history)
    metrics: dict[str, float] = {}
    if config.sft.eval and test is not None:
        evaluation = trainer.evaluate(eval_dataset=test)
        metrics["eval_loss"] = float(evaluation["eval_loss"])
        tracker.log_metrics({"eval_loss": metrics["eval_loss"]}, trainer.state.global_step, "sft")
    loss_start, loss_end = first_and_last(history, "loss")
    _, tokens = first_and_last(history, "num_tokens")
    steps = int(trainer.state.global_step)
    metrics.update(
        {
            "loss_start": loss_start if loss_start is not None else float("nan"),
            "loss_end": loss_end if loss_end is not None else float("nan"),
            "seconds_per_step": runtime / max(steps, 1),
            "peak_memory_mb": peak_memory_mb(plan.device),
        }
    )
    if tokens:
        metrics["train_tokens"] = tokens
        metrics["tokens_per_second"] = tokens / max(runtime, 1e-9)
    adapter_dir = folder / "adapter"
    trainer.save_model(str(adapter_dir))
    del trainer, model
    merged = merge_adapter(base_path, adapter_dir, tokenizer, plan, folder / "merged")
    result = StageResult(
        stage="sft",
        steps=steps,
        train_samples=len(train),
        runtime_s=runtime,
        metrics=metrics,
        history=history,
        adapter_dir=str(adapter_dir),
        merged_dir=str(merged),
    )
    result.save(folder)
    logger.info("SFT done: {} steps, loss {:.3f} -> {:.3f}", steps, loss_start or 0, loss_end or 0)
    return result
