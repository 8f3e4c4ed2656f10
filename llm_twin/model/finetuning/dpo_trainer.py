"""Preference alignment: TRL ``DPOTrainer`` with a fresh LoRA adapter on the SFT model.

``ref_model=None`` + ``peft_config``: the reference policy is the SFT model itself with the
adapter disabled, so no second copy of the weights is held in memory.
"""

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


def run_dpo(
    sft_path: Path | str,
    tokenizer: Any,
    train: Any,
    test: Any | None,
    config: TrainingConfig,
    plan: HardwarePlan,
    folder: Path,
    tracker: Tracker,
) -> StageResult:
    """Align the SFT model on preference pairs and merge the adapter; skip when already done.

    Args:
        sft_path: Folder of the merged SFT model.
        tokenizer: Tokenizer with the training chat template.
        train: Conversational preference dataset (``prompt``/``chosen``/``rejected``).
        test: Its test split, or None.
        config: The run's config (``config.dpo``, ``config.lora``, ``config.seed``).
        plan: Device, precision, quantization.
        folder: The stage's folder: ``checkpoints/``, ``adapter/``, ``merged/``, result record.
        tracker: Where metrics go.
    """
    finished = StageResult.load(folder)
    if finished is not None:
        logger.info("DPO already finished in {}: reusing it", folder)
        return finished
    from trl import DPOTrainer

    set_seed(config.seed)
    checkpoints = folder / "checkpoints"
    args = config.dpo.to_trl(checkpoints, plan.trainer_arguments(config.seed))
    model = load_model(sft_path, plan)
    trainer = DPOTrainer(
        model=model,
        ref_model=None,
        args=args,
        train_dataset=train,
        processing_class=tokenizer,
        peft_config=config.lora.to_peft(),
        callbacks=[metrics_callback(tracker, "dpo")],
    )
    logger.info("DPO: {} pairs on {} ({})", len(train), plan.device_name, plan.precision)
    runtime = train_with_resume(trainer, checkpoints)
    history = list(trainer.state.log_history)
    metrics: dict[str, float] = {}
    if config.dpo.eval and test is not None:
        evaluation = trainer.evaluate(eval_dataset=test)
        for key in ("eval_loss", "eval_rewards/margins", "eval_rewards/accuracies"):
            if key in evaluation:
                metrics[key.replace("/", "_")] = float(evaluation[key])
    loss_start, loss_end = first_and_last(history, "loss")
    margin_start, margin_end = first_and_last(history, "rewards/margins")
    _, accuracy = first_and_last(history, "rewards/accuracies")
    steps = int(trainer.state.global_step)
    metrics.update(
        {
            "loss_start": loss_start if loss_start is not None else float("nan"),
            "loss_end": loss_end if loss_end is not None else float("nan"),
            "reward_margin_start": margin_start if margin_start is not None else float("nan"),
            "reward_margin_end": margin_end if margin_end is not None else float("nan"),
            "reward_accuracy_end": accuracy if accuracy is not None else float("nan"),
            "seconds_per_step": runtime / max(steps, 1),
            "peak_memory_mb": peak_memory_mb(plan.device),
        }
    )
    adapter_dir = folder / "adapter"
    trainer.save_model(str(adapter_dir))
    del trainer, model
    merged = merge_adapter(sft_path, adapter_dir, tokenizer, plan, folder / "merged")
    result = StageResult(
        stage="dpo",
        steps=steps,
        train_samples=len(train),
        runtime_s=runtime,
        metrics=metrics,
        history=history,
        adapter_dir=str(adapter_dir),
        merged_dir=str(merged),
    )
    result.save(folder)
    logger.info("DPO done: {} steps, reward margin {}", steps, margin_end)
    return result
