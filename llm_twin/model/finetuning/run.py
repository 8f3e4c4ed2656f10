"""One training run end to end: resolve the base model, the datasets and the pt stage's documents,
continued pretraining (when enabled), SFT, DPO, curves, tracking.

The run's folder is ``DATA_DIR/training/runs/<fingerprint>``: the same config on the same data
reuses it, so a crashed run resumes (finished stages are skipped, an interrupted one continues
from its last checkpoint). The pt stage has its own folder,
``DATA_DIR/training/pt/<pt fingerprint>``, shared by runs that differ only after it.
Registering the result is the registry's job (``model.registry``).
"""

import dataclasses
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loguru import logger

from llm_twin.application.dataset import store
from llm_twin.domain.exceptions import InvalidInput
from llm_twin.model.finetuning.config import TrainingConfig
from llm_twin.settings import Settings

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from llm_twin.model.finetuning.corpus import PretrainingCorpus
    from llm_twin.model.finetuning.hardware import HardwarePlan
    from llm_twin.model.finetuning.stage import StageResult
    from llm_twin.model.finetuning.tracking import Tracker


@dataclasses.dataclass
class TrainingOutcome:
    """What a run produced.

    Attributes:
        fingerprint: Hash of config + data + base model (the run's identity).
        run_dir: The run's working folder.
        model_dir: The final merged model (HF folder with tokenizer and chat template).
        adapters: ``{"pt": folder, "sft": folder, "dpo": folder}`` of the LoRA adapters trained
            (``pt`` only when the pt stage trained a LoRA adapter).
        base_model: The base model as resolved (id or path).
        dataset_versions: ``{"instruct": version, "preference": version or ""}``.
        device: ``cpu`` or ``cuda`` and the device name.
        precision: Compute precision used.
        quantization: ``none`` or ``4bit``.
        metrics: Flat summary metrics (``pt_loss_end``, ``sft_loss_end``,
            ``dpo_reward_margin_end``...).
        history: ``{"pt": [...], "sft": [...], "dpo": [...]}`` trainer log histories.
        curves: The training-curves PNG.
        comet: ``{"experiment_key", "archive"}`` when tracked.
        duration_s: Wall-clock seconds of the whole run.
        pt_model: The fully fine-tuned pt model folder (``pt.method: full``), else empty.
    """

    fingerprint: str
    run_dir: Path
    model_dir: Path
    adapters: dict[str, str]
    base_model: str
    dataset_versions: dict[str, str]
    device: str
    precision: str
    quantization: str
    metrics: dict[str, float]
    history: dict[str, list[dict[str, Any]]]
    curves: Path
    comet: dict[str, str]
    duration_s: float
    pt_model: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (paths as strings), e.g. to pass between pipeline steps."""
        data = dataclasses.asdict(self)
        for key in ("run_dir", "model_dir", "curves"):
            data[key] = str(data[key])
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainingOutcome":
        """The inverse of :meth:`to_dict`."""
        values = dict(data)
        for key in ("run_dir", "model_dir", "curves"):
            values[key] = Path(values[key])
        return cls(**values)


def resolve_base_model(config: TrainingConfig, settings: Settings) -> str:
    """The base model to load: the offline SmolLM2 folder (prepared on first use) or the
    configured id/path.

    Raises:
        InvalidInput: a path-like ``base_model`` that does not exist.
    """
    if config.uses_offline_base:
        from llm_twin.model.base_model import base_model_dir, prepare_base_model

        return str(prepare_base_model(base_model_dir(settings)))
    candidate = Path(config.base_model).expanduser()
    if candidate.exists():
        if not (candidate / "config.json").is_file():
            raise InvalidInput(f"base_model {candidate} is not a Hugging Face model folder")
        return str(candidate.resolve())
    if config.base_model.startswith((".", "/", "~")):
        raise InvalidInput(f"base_model folder {config.base_model} does not exist")
    return config.base_model  # a Hub id; needs OFFLINE=false and network


def resolve_dataset_versions(config: TrainingConfig, settings: Settings) -> dict[str, str]:
    """The concrete dataset versions the run trains on (``latest`` resolved).

    Raises:
        InvalidInput: a dataset (version) is missing, saying which pipeline makes it.
    """
    instruct = store.resolve(settings.storage.data_dir, "instruct", config.instruct_dataset_version)
    versions = {"instruct": instruct.name, "preference": ""}
    if config.dpo.enabled:
        versions["preference"] = store.resolve(
            settings.storage.data_dir, "preference", config.preference_dataset_version
        ).name
    return versions


@dataclasses.dataclass(frozen=True)
class RunInputs:
    """What a run trains on, resolved: base model, dataset versions, the pt stage's documents
    (None when the stage is off) and the run's fingerprint."""

    base_model: str
    dataset_versions: dict[str, str]
    fingerprint: str
    corpus: "PretrainingCorpus | None" = None


def prepare_run(config: TrainingConfig, settings: Settings) -> RunInputs:
    """Resolve the datasets (first: a missing dataset fails before any model work), the pt
    stage's documents (read from the feature store) and the base model (converting the offline
    one on first use) and fingerprint the run."""
    versions = resolve_dataset_versions(config, settings)
    corpus = None
    if config.pt.enabled:
        from llm_twin.model.finetuning.corpus import load_corpus

        instruct = store.load(settings.storage.data_dir, "instruct", versions["instruct"])
        corpus = load_corpus(settings, instruct, config.pt)
    base = resolve_base_model(config, settings)
    digest = corpus.digest if corpus is not None else ""
    return RunInputs(base, versions, config.fingerprint(versions, base, digest), corpus)


@dataclasses.dataclass(frozen=True)
class _Stages:
    """The finished stages of a run: pt when enabled, SFT, and DPO unless it is disabled."""

    pt: "StageResult | None"
    sft: "StageResult"
    dpo: "StageResult | None"

    @property
    def final(self) -> "StageResult":
        """The stage whose merged model is the run's result."""
        return self.dpo if self.dpo is not None else self.sft

    def _finished(self) -> list["StageResult"]:
        return [stage for stage in (self.pt, self.sft, self.dpo) if stage is not None]

    def history(self) -> dict[str, list[dict[str, Any]]]:
        """``{"pt": [...], "sft": [...], "dpo": [...]}`` trainer log histories."""
        return {
            "pt": self.pt.history if self.pt else [],
            "sft": self.sft.history,
            "dpo": self.dpo.history if self.dpo else [],
        }

    def adapters(self) -> dict[str, str]:
        """``{"pt": folder, "sft": folder, "dpo": folder}`` of the LoRA adapters trained."""
        return {stage.stage: stage.adapter_dir for stage in self._finished() if stage.adapter_dir}

    def pt_model(self) -> str:
        """The fully fine-tuned pt model's folder (``pt.method: full``), else empty."""
        return self.pt.merged_dir if self.pt is not None and not self.pt.adapter_dir else ""

    def metrics(self) -> dict[str, float]:
        """Each stage's metrics, steps and sample count with the stage as prefix."""
        metrics: dict[str, float] = {}
        for stage in self._finished():
            metrics |= {f"{stage.stage}_{key}": value for key, value in stage.metrics.items()}
            metrics[f"{stage.stage}_steps"] = stage.steps
            metrics[f"{stage.stage}_train_samples"] = stage.train_samples
        return metrics


def _train_stages(
    config: TrainingConfig,
    settings: Settings,
    inputs: RunInputs,
    run_dir: Path,
    plan: "HardwarePlan",
    tracker: "Tracker",
) -> _Stages:
    """Continued pretraining on the author's documents (when enabled), SFT on the instruct
    dataset from its result, then (when enabled) DPO on the preference dataset."""
    from llm_twin.model.finetuning.data import dpo_splits, sft_splits
    from llm_twin.model.finetuning.dpo_trainer import DPOStage
    from llm_twin.model.finetuning.sft_trainer import SFTStage
    from llm_twin.model.finetuning.stage import prepare_tokenizer

    versions = inputs.dataset_versions
    tokenizer = prepare_tokenizer(inputs.base_model)
    instruct = store.load(settings.storage.data_dir, "instruct", versions["instruct"])
    pt = _pretrain(config, inputs, tokenizer, settings.storage.data_dir, plan, tracker)
    start = pt.merged_dir if pt is not None else inputs.base_model
    sft_train, sft_test = sft_splits(
        instruct,
        config.sft.max_samples,
        config.seed,
        tokenizer=tokenizer,
        max_length=config.sft.max_length,
    )
    sft = SFTStage().run(
        start, tokenizer, sft_train, sft_test, config, plan, run_dir / "sft", tracker
    )
    if not config.dpo.enabled:
        return _Stages(pt, sft, None)
    preference = store.load(settings.storage.data_dir, "preference", versions["preference"])
    dpo_train, dpo_test = dpo_splits(preference, config.dpo.max_samples, config.seed)
    dpo = DPOStage().run(
        sft.merged_dir, tokenizer, dpo_train, dpo_test, config, plan, run_dir / "dpo", tracker
    )
    return _Stages(pt, sft, dpo)


def _pretrain(
    config: TrainingConfig,
    inputs: RunInputs,
    tokenizer: "PreTrainedTokenizerBase",
    data_dir: Path,
    plan: "HardwarePlan",
    tracker: "Tracker",
) -> "StageResult | None":
    """The pt stage on the run's corpus (None when the stage is off), in
    ``DATA_DIR/training/pt/<pt fingerprint>``: runs that differ only after pt reuse it."""
    if not config.pt.enabled or inputs.corpus is None:
        return None
    from llm_twin.model.finetuning.data import pt_splits
    from llm_twin.model.finetuning.pt_trainer import PTStage

    pt = config.pt
    texts = [document.content for document in inputs.corpus.documents]
    packed = pt_splits(texts, tokenizer, pt.block_size, pt.eval_blocks, config.seed)
    digest = inputs.corpus.digest
    folder = data_dir / "training" / "pt" / config.pt_fingerprint(inputs.base_model, digest)
    inputs.corpus.save(folder / "corpus.json")
    return PTStage(packed).run(
        inputs.base_model, tokenizer, packed.train, packed.test, config, plan, folder, tracker
    )


def _rounded(metrics: dict[str, float]) -> dict[str, float]:
    return {
        key: value if isinstance(value, int) else round(float(value), 6)
        for key, value in metrics.items()
    }


def run_training(
    config: TrainingConfig, settings: Settings, inputs: RunInputs | None = None
) -> TrainingOutcome:
    """Train: continued pretraining on the author's documents (when enabled), SFT on the
    instruct dataset, then DPO on the preference dataset.

    Args:
        config: The validated run config.
        settings: DATA_DIR, Comet and Hub settings.
        inputs: The run's resolved inputs (default: :func:`prepare_run`).
    """
    from llm_twin.model.finetuning.curves import plot_curves
    from llm_twin.model.finetuning.hardware import plan_hardware
    from llm_twin.model.finetuning.tracking import start_tracking

    started = time.perf_counter()
    inputs = inputs or prepare_run(config, settings)
    plan = plan_hardware(config)
    base, versions, fingerprint = inputs.base_model, inputs.dataset_versions, inputs.fingerprint
    run_dir = settings.storage.data_dir / "training" / "runs" / fingerprint
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(config.model_dump_json(indent=1))
    logger.info("training run {} in {} ({}, {})", fingerprint, run_dir, plan.device, plan.precision)

    tracker = start_tracking(config.tracking, settings, f"{config.model_name}-{fingerprint}")
    try:
        tracker.log_parameters(
            {
                "config": config.model_dump(),
                "base_model": base,
                "dataset_versions": versions,
                "device": plan.device_name,
                "precision": plan.precision,
                "fingerprint": fingerprint,
            }
        )
        stages = _train_stages(config, settings, inputs, run_dir, plan, tracker)
        history = stages.history()
        curves_path = run_dir / "training_curves.png"
        curves = plot_curves(history["sft"], history["dpo"], curves_path, pt_history=history["pt"])
        tracker.log_image(curves, "training_curves")
        comet = {"experiment_key": tracker.key or ""}
    finally:
        tracker.end()
    if tracker.archive is not None:
        comet["archive"] = str(tracker.archive)
    return TrainingOutcome(
        fingerprint=fingerprint,
        run_dir=run_dir,
        model_dir=Path(stages.final.merged_dir),
        adapters=stages.adapters(),
        base_model=base if not config.uses_offline_base else config.base_model,
        dataset_versions=versions,
        device=f"{plan.device} ({plan.device_name})",
        precision=plan.precision,
        quantization=config.quantization,
        metrics=_rounded(stages.metrics()),
        history=history,
        curves=curves,
        comet=comet,
        duration_s=round(time.perf_counter() - started, 2),
        pt_model=stages.pt_model(),
    )
