"""Registry versions made from a model folder without training: a training outcome whose files
are real (the given model, adapter configs, a PNG) as ``run_training`` leaves them. Shared by
the hot-reload tests of the model layer and the API (``tests/`` is on ``sys.path``)."""

import shutil
from pathlib import Path

from llm_twin.model.finetuning.config import parse_config
from llm_twin.model.finetuning.run import TrainingOutcome
from llm_twin.model.registry import ModelRegistry, ModelVersion


def register_version(
    registry: ModelRegistry, work_dir: Path, fingerprint: str, model: Path | None
) -> ModelVersion:
    """Register the model folder ``model`` as the next version (``None``: a folder holding only
    a ``config.json``, which registers but cannot load).

    Args:
        registry: The registry.
        work_dir: Where the run folder is made.
        fingerprint: The run's fingerprint (distinct per version).
        model: The Hugging Face folder to register.
    """
    run_dir = work_dir / "training" / "runs" / fingerprint
    model_dir = run_dir / "dpo" / "merged"
    if model is None:
        model_dir.mkdir(parents=True)
        (model_dir / "config.json").write_text('{"model_type": "llama"}')
    else:
        shutil.copytree(model, model_dir)
    adapters = {}
    for stage in ("sft", "dpo"):
        adapter = run_dir / stage / "adapter"
        adapter.mkdir(parents=True)
        (adapter / "adapter_config.json").write_text("{}")
        adapters[stage] = str(adapter)
    curves = run_dir / "training_curves.png"
    curves.write_bytes(b"\x89PNG\r\n\x1a\n")
    outcome = TrainingOutcome(
        fingerprint=fingerprint,
        run_dir=run_dir,
        model_dir=model_dir,
        adapters=adapters,
        base_model="tiny",
        dataset_versions={"instruct": "20260101-aaa", "preference": "20260101-bbb"},
        device="cpu (cpu)",
        precision="fp32",
        quantization="none",
        metrics={"sft_loss_end": 1.0},
        history={"sft": [], "dpo": []},
        curves=curves,
        comet={},
        duration_s=1.0,
    )
    return registry.register(outcome, parse_config({"tracking": "none"}))
