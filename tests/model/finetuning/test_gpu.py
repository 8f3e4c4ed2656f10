"""The GPU path: bf16 LoRA and 4-bit QLoRA SFT + DPO on the tiny model. Skipped, with the reason,
where no CUDA device (or, for 4-bit, no bitsandbytes) exists."""

import importlib.util
from pathlib import Path

import pytest

from tests.model.conftest import save_datasets, tiny_config

torch = pytest.importorskip("torch")
needs_cuda = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA device: the GPU path runs only on a GPU"
)


@needs_cuda
@pytest.mark.parametrize(
    "quantization",
    [
        "none",
        pytest.param(
            "4bit",
            marks=pytest.mark.skipif(
                importlib.util.find_spec("bitsandbytes") is None,
                reason="bitsandbytes is not installed (pip install 'llm-twin[gpu]')",
            ),
        ),
    ],
)
def test_gpu_training_uses_bf16_and_lowers_the_loss(
    quantization: str, tiny_base_model: Path, tmp_path: Path
) -> None:
    from llm_twin.model.finetuning.hardware import plan_hardware
    from llm_twin.model.finetuning.run import run_training
    from llm_twin.settings import Settings

    save_datasets(tmp_path)
    config = tiny_config(tiny_base_model, device="cuda", quantization=quantization)
    plan = plan_hardware(config)
    assert plan.device == "cuda" and plan.gradient_checkpointing
    assert plan.precision == ("bf16" if torch.cuda.is_bf16_supported() else "fp16")
    outcome = run_training(config, Settings(_env_file=None, DATA_DIR=tmp_path))
    assert outcome.device.startswith("cuda")
    assert outcome.metrics["sft_loss_end"] < outcome.metrics["sft_loss_start"]
    assert outcome.metrics["sft_peak_memory_mb"] > 0
    assert "dpo_reward_margin_end" in outcome.metrics
    assert (outcome.model_dir / "config.json").is_file()
