"""The versioned model registry: every training run becomes a numbered version on disk, mirrored
into ZenML's Model Control Plane, with a stage (none → staging → production; the production
version displaced by a new one becomes archived).

Layout: ``DATA_DIR/registry/<model name>/<version>/`` holds

- ``model/``: the merged model in Hugging Face format with its tokenizer and chat template
  (what the inference service loads),
- ``model-ct2-int8/``: its int8 CTranslate2 export (the CPU engine; see :mod:`.export`),
- ``adapters/pt`` (when the continued-pretraining stage trained a LoRA adapter: a PEFT adapter on
  the base model), ``adapters/sft`` (on the pt-merged model when pt ran, else on the base model),
  ``adapters/dpo`` (on the SFT-merged model): the LoRA adapters,
- ``pt_model/``: the continued-pretrained model when the pt stage trained every weight
  (``pt.method: full``), a Hugging Face folder,
- ``chat_template.jinja``, ``config.yaml`` (the run's config), ``training_curves.png``,
- ``README.md``: the model card (base model, dataset versions, config, metrics, git commit,
  data lineage, curves),
- ``version.json``: the record (stage, metrics, lineage) ``list-models`` shows.

A version folder appears complete or not at all (it is built beside and renamed). Changes to
stages hold a file lock, so two processes never leave two production versions.

The inference service asks :func:`served_model` which model folder to load and under which id
(``llm-twin-v3``).
"""

import contextlib
import dataclasses
import datetime as dt
import fcntl
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loguru import logger

from llm_twin.domain.exceptions import InvalidInput
from llm_twin.settings import PROJECT_ROOT, Settings, get_settings

if TYPE_CHECKING:
    from llm_twin.model.finetuning.config import TrainingConfig
    from llm_twin.model.finetuning.run import TrainingOutcome

#: The default model name (configs' ``model_name``).
DEFAULT_MODEL_NAME = "llm-twin"
#: Stages a version can be in, in ZenML's vocabulary.
STAGES = ("none", "staging", "production", "archived")
RECORD_FILE = "version.json"


@dataclasses.dataclass(frozen=True)
class ServedModel:
    """The model the inference service loads.

    Attributes:
        path: Its Hugging Face model folder.
        model_id: The id reported in responses and traces (``llm-twin-v3`` for a registry
            version, else the folder's name).
    """

    path: Path
    model_id: str


@dataclasses.dataclass
class ModelVersion:
    """One registered version.

    Attributes:
        name: Model name.
        version: Version number (1, 2, ...).
        stage: One of :data:`STAGES`.
        path: The version folder.
        created_at: ISO-8601 UTC time of registration.
        base_model: Base model id (or the offline base's name).
        metrics: Summary metrics of the run.
        dataset_versions: ``{"instruct": ..., "preference": ...}``.
        fingerprint: Hash of config + data + base model (same fingerprint: same training).
        git_commit: Commit of the code that trained it (``-dirty`` when uncommitted changes).
        details: Everything else recorded (device, precision, Comet experiment, durations).
    """

    name: str
    version: int
    stage: str
    path: Path
    created_at: str
    base_model: str
    metrics: dict[str, float]
    dataset_versions: dict[str, str]
    fingerprint: str
    git_commit: str
    details: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def model_dir(self) -> Path:
        """The merged Hugging Face model folder."""
        return self.path / "model"

    @property
    def model_id(self) -> str:
        """The id the service reports for this version's model (``llm-twin-v3``)."""
        return f"{self.name}-v{self.version}"

    def to_json(self) -> dict[str, Any]:
        """The listing record: version, stage, base_model, path (the model folder), created_at,
        metrics, plus name, dataset versions, fingerprint and exports (kind → folder name)."""
        return {
            "name": self.name,
            "version": self.version,
            "stage": self.stage,
            "base_model": self.base_model,
            "path": str(self.model_dir),
            "created_at": self.created_at,
            "metrics": self.metrics,
            "dataset_versions": self.dataset_versions,
            "fingerprint": self.fingerprint,
            "git_commit": self.git_commit,
            "exports": self.details.get("exports", {}),
        }

    def _record(self) -> dict[str, Any]:
        record = dataclasses.asdict(self)
        record["path"] = str(self.path)
        return record

    @classmethod
    def _from_record(cls, record: dict[str, Any], path: Path) -> "ModelVersion":
        record = dict(record, path=path)
        return cls(**record)


def registry_root(settings: Settings | None = None) -> Path:
    """``DATA_DIR/registry``."""
    return (settings or get_settings()).storage.data_dir / "registry"


def git_commit(root: Path = PROJECT_ROOT) -> str:
    """The checkout's commit (``<sha>-dirty`` with uncommitted changes; ``unknown`` outside git)."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
        )
        if sha.returncode != 0:
            return "unknown"
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return sha.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


class ModelRegistry:
    """The versions of one model under ``root/<name>``.

    Args:
        root: The registry folder (``DATA_DIR/registry``).
        name: The model name.
        zenml: Mirror registrations and stage changes into ZenML's Model Control Plane.
    """

    def __init__(self, root: Path, name: str = DEFAULT_MODEL_NAME, zenml: bool = True) -> None:
        self.root = root
        self.name = name
        self.folder = root / name
        self.zenml = zenml

    # -- reading ---------------------------------------------------------------------------
    def versions(self) -> list[ModelVersion]:
        """Every complete version, oldest first."""
        if not self.folder.is_dir():
            return []
        found = []
        for path in self.folder.iterdir():
            record = path / RECORD_FILE
            if path.name.isdigit() and record.is_file():
                found.append(ModelVersion._from_record(json.loads(record.read_text()), path))
        return sorted(found, key=lambda version: version.version)

    def get(self, version: int) -> ModelVersion:
        """Version ``version``.

        Raises:
            InvalidInput: no such version (the message lists the existing ones).
        """
        for candidate in self.versions():
            if candidate.version == version:
                return candidate
        known = ", ".join(str(v.version) for v in self.versions()) or "none"
        raise InvalidInput(f"model {self.name!r} has no version {version} (versions: {known})")

    def select(self, selector: str) -> ModelVersion:
        """The version ``selector`` names: a number, ``latest`` (the newest) or a stage (the
        newest version in it, e.g. ``production``).

        Raises:
            InvalidInput: no such version, none registered, or an unknown selector.
        """
        if selector.isdigit():
            return self.get(int(selector))
        if selector == "latest":
            versions = self.versions()
            if not versions:
                raise InvalidInput(
                    f"model {self.name!r} has no registered version under {self.folder}: "
                    "run the training pipeline first"
                )
            return versions[-1]
        if selector not in STAGES:
            raise InvalidInput(
                f"unknown model version {selector!r}: a number, latest, or a stage "
                f"({', '.join(STAGES)})"
            )
        found = self.in_stage(selector)
        if found is None:
            raise InvalidInput(
                f"model {self.name!r} has no {selector} version (no version in stage "
                f"{selector!r}): pass a version number or `poe promote-model --version N "
                f"--stage {selector}` first"
            )
        return found

    def in_stage(self, stage: str) -> ModelVersion | None:
        """The newest version in ``stage``, or None."""
        matching = [version for version in self.versions() if version.stage == stage]
        return matching[-1] if matching else None

    def served_model(self) -> ServedModel | None:
        """The production version's merged model and its id, or None when no version is in
        production (or its model folder is incomplete)."""
        production = self.in_stage("production")
        if production is None or not (production.model_dir / "config.json").is_file():
            return None
        return ServedModel(production.model_dir, production.model_id)

    def find_fingerprint(self, fingerprint: str) -> ModelVersion | None:
        """The newest version trained with exactly this config, data and base model."""
        matching = [v for v in self.versions() if v.fingerprint == fingerprint]
        return matching[-1] if matching else None

    # -- writing ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def register(
        self,
        outcome: "TrainingOutcome",
        config: "TrainingConfig",
        *,
        move_model: bool = True,
    ) -> ModelVersion:
        """Store a training outcome as the next version (stage ``none``).

        Args:
            outcome: A ``finetuning.run.TrainingOutcome``.
            config: The run's ``TrainingConfig``.
            move_model: Move the merged model folder (saves a copy of the weights) rather than
                copy it.
        """
        import yaml

        from llm_twin.domain.prompts import TRAINING_CHAT_TEMPLATE

        with self._locked():
            number = max((v.version for v in self.versions()), default=0) + 1
            for leftover in self.folder.glob(".*.partial"):
                shutil.rmtree(leftover, ignore_errors=True)
            staging = self.folder / f".{number}.partial"
            staging.mkdir(parents=True)
            transfer = shutil.move if move_model else shutil.copytree
            transfer(str(outcome.model_dir), str(staging / "model"))
            for stage, adapter in outcome.adapters.items():
                shutil.copytree(adapter, staging / "adapters" / stage)
            if outcome.pt_model:
                # Copied: the pt stage's folder is shared by the runs that reuse it.
                shutil.copytree(outcome.pt_model, staging / "pt_model")
            shutil.copy2(outcome.curves, staging / "training_curves.png")
            (staging / "chat_template.jinja").write_text(TRAINING_CHAT_TEMPLATE + "\n")
            config_dump = config.model_dump(mode="json")
            (staging / "config.yaml").write_text(yaml.safe_dump(config_dump, sort_keys=False))
            version = ModelVersion(
                name=self.name,
                version=number,
                stage="none",
                path=self.folder / str(number),
                created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                base_model=outcome.base_model,
                metrics=dict(outcome.metrics),
                dataset_versions=dict(outcome.dataset_versions),
                fingerprint=outcome.fingerprint,
                git_commit=git_commit(),
                details={
                    "device": outcome.device,
                    "precision": outcome.precision,
                    "quantization": outcome.quantization,
                    "duration_s": outcome.duration_s,
                    "comet": outcome.comet,
                    "run_dir": str(outcome.run_dir),
                },
            )
            from llm_twin.model.export import card_with_exports, try_export
            from llm_twin.model.finetuning.model_card import write_model_card

            version.details["exports"] = try_export(staging / "model")
            card = write_model_card(staging / "README.md", version, config_dump, outcome)
            card.write_text(card_with_exports(card.read_text(encoding="utf-8"), version))
            (staging / RECORD_FILE).write_text(json.dumps(version._record(), indent=1) + "\n")
            staging.rename(version.path)
        logger.info("registered {} version {} at {}", self.name, number, version.path)
        if self.zenml:
            sync_to_zenml(version)
        return version

    def promote(self, version: int, stage: str) -> ModelVersion:
        """Move ``version`` to ``stage``; a new production version archives the previous one.

        Raises:
            InvalidInput: unknown version or stage.
        """
        if stage not in STAGES:
            raise InvalidInput(f"unknown stage {stage!r} (stages: {', '.join(STAGES)})")
        with self._locked():
            target = self.get(version)
            changed = []
            if stage == "production":
                for other in self.versions():
                    if other.stage == "production" and other.version != version:
                        other.stage = "archived"
                        changed.append(other)
            target.stage = stage
            changed.append(target)
            for item in changed:
                _write_record(item)
        logger.info("{} version {} is now {}", self.name, version, stage)
        if self.zenml:
            sync_to_zenml(target)
        return target

    def record_evaluation(
        self,
        version: int,
        evaluation: dict[str, Any],
        metrics: dict[str, float],
        card_section: str | None = None,
    ) -> ModelVersion:
        """Store an evaluation's results in ``version``'s record (``details["evaluation"]`` and
        the flat ``metrics``) and replace its model card's evaluation section, under the lock.
        Re-recording replaces the previous evaluation (idempotent).

        Args:
            version: The version number.
            evaluation: What to keep in the record (fingerprint, gate, report path...).
            metrics: Flat numbers merged into the record's metrics (``eval_*`` keys).
            card_section: The card's evaluation section (see ``evaluation.report``), or None to
                leave the card alone.

        Raises:
            InvalidInput: unknown version.
        """
        with self._locked():
            target = self.get(version)
            target.details["evaluation"] = evaluation
            kept = {k: v for k, v in target.metrics.items() if not k.startswith("eval_")}
            target.metrics = kept | dict(metrics)
            _write_record(target)
            card = target.path / "README.md"
            if card_section is not None and card.is_file():
                from llm_twin.model.evaluation.report import replace_card_section

                text = replace_card_section(card.read_text(encoding="utf-8"), card_section)
                temporary = card.with_name("README.md.tmp")
                temporary.write_text(text, encoding="utf-8")
                os.replace(temporary, card)
        logger.info("{} version {}: evaluation recorded", self.name, version)
        return target


def _write_record(version: ModelVersion) -> None:
    path = version.path / RECORD_FILE
    temporary = path.with_name(RECORD_FILE + ".tmp")
    temporary.write_text(json.dumps(version._record(), indent=1) + "\n")
    os.replace(temporary, path)


def zenml_version_name(number: int) -> str:
    """The ZenML model version name of registry version ``number`` (``v3``: ZenML refuses
    purely numeric names, keeping numbers for its own counter)."""
    return f"v{number}"


def sync_to_zenml(version: ModelVersion) -> None:
    """Register (or update) ``version`` in ZenML's Model Control Plane: the model, a version
    named ``v<number>``, its stage (production there is forced, archiving the previous one, as
    here), and the version's record as metadata."""
    from zenml import log_metadata
    from zenml.client import Client
    from zenml.exceptions import EntityExistsError

    client = Client()
    try:
        client.get_model(version.name)
    except KeyError:
        # A concurrent process may create it meanwhile: then it exists, as wanted.
        with contextlib.suppress(EntityExistsError):
            client.create_model(
                name=version.name,
                description="The LLM Twin: an LLM fine-tuned (SFT + DPO) on an author's writing",
                license="apache-2.0",
            )
    name = zenml_version_name(version.version)
    try:
        client.get_model_version(version.name, name)
    except KeyError:
        client.create_model_version(
            model_name_or_id=version.name,
            name=name,
            description=f"base {version.base_model}; data {version.dataset_versions}",
        )
    stage = version.stage
    if stage != "none":
        client.update_model_version(version.name, name, stage=stage, force=True)
    log_metadata(
        metadata={"registry": version.to_json(), "details": version.details},
        model_name=version.name,
        model_version=name,
    )


def production_model_path(
    settings: Settings | None = None, name: str = DEFAULT_MODEL_NAME
) -> Path | None:
    """The merged model folder of the production version of ``name``, or None when no version
    is in production. Reads the local registry only (no ZenML import, fast).

    Args:
        settings: Where ``DATA_DIR`` comes from (default: the process settings).
        name: The model name (default ``llm-twin``).
    """
    served = ModelRegistry(registry_root(settings), name, zenml=False).served_model()
    return served.path if served is not None else None


def model_id_for(path: Path) -> str:
    """The id the service reports for the model folder ``path``: ``llm-twin-v3`` for a
    registry version's model folder (``registry/llm-twin/3/model``), else the folder's name."""
    if path.name == "model" and (path.parent / RECORD_FILE).is_file():
        return f"{path.parent.parent.name}-v{path.parent.name}"
    return path.name


def served_model(settings: Settings | None = None) -> ServedModel:
    """The model the local LLM backend serves: ``LLM_MODEL_PATH`` when set, else the registry's
    production twin, else the offline base model (with a logged notice). Reads the local
    registry only (no ZenML import, fast); pass it to ``build_llm(settings, served_model)``.

    Args:
        settings: ``LLM_MODEL_PATH`` and ``DATA_DIR`` (default: the process settings).
    """
    settings = settings or get_settings()
    if settings.llm.model_path:
        return ServedModel(settings.llm.model_path, model_id_for(settings.llm.model_path))
    production = ModelRegistry(registry_root(settings), zenml=False).served_model()
    if production is not None:
        logger.info("serving the production twin from the model registry: {}", production.path)
        return production
    logger.info(
        "no production twin in the model registry: serving the base model {} "
        "(run the training pipeline, then poe promote-model, to serve a fine-tuned twin)",
        settings.llm_model_path,
    )
    base = settings.llm_model_path
    return ServedModel(base, model_id_for(base))


def push_to_hub(version: ModelVersion, repo_id: str, settings: Settings | None = None) -> str:
    """Upload ``version``'s folder (merged model, adapters, card, curves) to the Hugging Face Hub.

    Args:
        version: The registered version.
        repo_id: Target repo, e.g. ``user/llm-twin``.
        settings: HUGGINGFACE_ACCESS_TOKEN and OFFLINE come from here.

    Raises:
        ImproperlyConfigured: no token, or OFFLINE is true.
    """
    from llm_twin.domain.exceptions import ImproperlyConfigured

    settings = settings or get_settings()
    if settings.training.huggingface_access_token is None:
        raise ImproperlyConfigured("pushing to the Hub needs HUGGINGFACE_ACCESS_TOKEN")
    if settings.runtime.offline:
        raise ImproperlyConfigured("pushing to the Hub needs OFFLINE=false")
    from huggingface_hub import HfApi

    api = HfApi(token=settings.training.huggingface_access_token.get_secret_value())
    api.create_repo(repo_id, exist_ok=True, private=True)
    api.upload_folder(
        repo_id=repo_id,
        folder_path=str(version.path),
        commit_message=f"{version.name} version {version.version}",
        ignore_patterns=[RECORD_FILE + ".tmp", ".*"],
    )
    logger.info("pushed {} version {} to the Hub as {}", version.name, version.version, repo_id)
    return repo_id
