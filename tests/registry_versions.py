"""Registry versions made from a model folder without training: a training outcome whose files
are real (the given model, adapter configs, a PNG) as ``run_training`` leaves them. Shared by
the hot-reload tests of the model layer and the API (``tests/`` is on ``sys.path``)."""

import shutil
from pathlib import Path

from llm_twin.model.finetuning.config import parse_config
from llm_twin.model.finetuning.run import TrainingOutcome
from llm_twin.model.registry import ModelRegistry, ModelVersion


def training_outcome(
    run_dir: Path,
    model_dir: Path,
    fingerprint: str,
    *,
    base_model: str = "tiny",
    metrics: dict[str, float] | None = None,
    comet: dict[str, str] | None = None,
    duration_s: float = 1.0,
) -> TrainingOutcome:
    """The outcome of a run in ``run_dir`` whose merged model is ``model_dir``: real adapter
    configs and a PNG are written as ``run_training`` leaves them.

    Args:
        run_dir: The run's folder.
        model_dir: Its merged model folder (already written).
        fingerprint: The run's fingerprint.
        base_model: The recorded base model.
        metrics: The recorded metrics (default: an SFT end loss of 1.0).
        comet: The recorded Comet details.
        duration_s: The recorded duration.
    """
    adapters = {}
    for stage in ("sft", "dpo"):
        adapter = run_dir / stage / "adapter"
        adapter.mkdir(parents=True)
        (adapter / "adapter_config.json").write_text("{}")
        adapters[stage] = str(adapter)
    curves = run_dir / "training_curves.png"
    curves.write_bytes(b"\x89PNG\r\n\x1a\n")
    return TrainingOutcome(
        fingerprint=fingerprint,
        run_dir=run_dir,
        model_dir=model_dir,
        adapters=adapters,
        base_model=base_model,
        dataset_versions={"instruct": "20260101-aaa", "preference": "20260101-bbb"},
        device="cpu (cpu)",
        precision="fp32",
        quantization="none",
        metrics=metrics if metrics is not None else {"sft_loss_end": 1.0},
        history={"sft": [], "dpo": []},
        curves=curves,
        comet=comet if comet is not None else {},
        duration_s=duration_s,
    )


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
    outcome = training_outcome(run_dir, model_dir, fingerprint)
    return registry.register(outcome, parse_config({"tracking": "none"}))
