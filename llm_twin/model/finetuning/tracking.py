"""Experiment tracking with Comet ML: one experiment per training run, both stages in it.

Without ``COMET_API_KEY`` the experiment is an offline archive (a zip under
``COMET_OFFLINE_DIRECTORY``, default ``DATA_DIR/comet``) that ``comet upload`` sends later; with a
key it is logged online. Metrics are forwarded by :class:`MetricsCallback` with a stage prefix
(``sft_loss``, ``dpo_rewards/margins``), so transformers' own Comet integration stays off.
"""

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loguru import logger

from llm_twin.settings import Settings

if TYPE_CHECKING:
    from comet_ml import CometExperiment
    from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments


class Tracker:
    """A run's tracking sink: a Comet experiment, or nothing when tracking is ``none``.

    Args:
        experiment: The Comet experiment, or None to track nothing.
        offline_dir: Where offline archives are written (for the summary).
    """

    def __init__(
        self, experiment: "CometExperiment | None" = None, offline_dir: Path | None = None
    ) -> None:
        self.experiment = experiment
        self.offline_dir = offline_dir
        self.archive: Path | None = None

    @property
    def enabled(self) -> bool:
        """True when an experiment records the run."""
        return self.experiment is not None

    @property
    def key(self) -> str | None:
        """The Comet experiment key, if any."""
        return self.experiment.get_key() if self.experiment is not None else None

    def log_parameters(self, parameters: dict[str, Any]) -> None:
        """Record the run's parameters (config, dataset versions, hardware)."""
        if self.experiment is not None:
            self.experiment.log_parameters(parameters)

    def log_metrics(self, metrics: dict[str, float], step: int, prefix: str) -> None:
        """Record numeric ``metrics`` at ``step`` under ``prefix`` (the stage name)."""
        if self.experiment is not None:
            self.experiment.log_metrics(metrics, step=step, prefix=prefix)

    def log_image(self, path: Path, name: str) -> None:
        """Attach an image (the training curves)."""
        if self.experiment is not None:
            self.experiment.log_image(str(path), name=name)

    def end(self) -> None:
        """Finish the experiment (writes the offline archive)."""
        if self.experiment is None:
            return
        key = self.experiment.get_key()
        self.experiment.end()
        if self.offline_dir is not None:
            archives = sorted(self.offline_dir.glob(f"{key}*.zip"))
            self.archive = archives[-1] if archives else None
            logger.info("Comet offline archive: {} (upload with `comet upload`)", self.archive)
        self.experiment = None


def start_tracking(mode: str, settings: Settings, run_name: str) -> Tracker:
    """Start the run's experiment.

    Args:
        mode: ``comet`` or ``none``.
        settings: COMET_API_KEY / COMET_WORKSPACE / COMET_PROJECT and DATA_DIR come from here.
        run_name: Experiment name (the run's fingerprint).
    """
    if mode == "none":
        return Tracker()
    import comet_ml

    online = settings.training.comet_api_key is not None
    offline_dir = None
    if not online:
        offline_dir = Path(
            os.environ.get("COMET_OFFLINE_DIRECTORY") or settings.storage.data_dir / "comet"
        ).resolve()
        offline_dir.mkdir(parents=True, exist_ok=True)
        os.environ["COMET_OFFLINE_DIRECTORY"] = str(offline_dir)
    experiment = comet_ml.start(
        api_key=settings.training.comet_api_key.get_secret_value() if online else None,
        workspace=settings.training.comet_workspace,
        project_name=settings.training.comet_project,
        online=online,
        experiment_config=comet_ml.ExperimentConfig(
            name=run_name,
            auto_metric_logging=False,
            auto_param_logging=False,
            log_code=False,
            log_git_metadata=False,
            log_git_patch=False,
            log_env_details=False,
            log_env_gpu=False,
            log_env_cpu=False,
            log_env_host=False,
            display_summary_level=0,
        ),
    )
    logger.info("Comet experiment {} ({})", experiment.get_key(), "online" if online else "offline")
    return Tracker(experiment, offline_dir)


def metrics_callback(tracker: Tracker, stage: str) -> "TrainerCallback":
    """A transformers ``TrainerCallback`` forwarding every logged metric to ``tracker``.

    Args:
        tracker: The run's tracker.
        stage: ``sft`` or ``dpo``; used as the metric prefix.
    """
    from transformers import TrainerCallback

    class MetricsCallback(TrainerCallback):
        def on_log(
            self,
            args: "TrainingArguments",
            state: "TrainerState",
            control: "TrainerControl",
            logs: dict[str, float] | None = None,
            **kwargs: object,
        ) -> None:
            numbers = {
                key: float(value)
                for key, value in (logs or {}).items()
                if isinstance(value, int | float) and not isinstance(value, bool)
            }
            if numbers:
                tracker.log_metrics(numbers, step=state.global_step, prefix=stage)

    return MetricsCallback()
