"""Launch a training config as a SageMaker training job: the use case behind
``poe run-training-sagemaker``.

It validates the config, resolves the dataset versions it names (``latest`` pinned to the version
resolved now, so the job trains on exactly that data), checks that the offline base model is
prepared when the config uses it, and hands the config and the folders to upload to the AWS
adapter (:class:`~llm_twin.infrastructure.aws.sagemaker_training.SageMakerTrainingJobs`).
"""

from pathlib import Path

from llm_twin.domain.exceptions import ImproperlyConfigured
from llm_twin.infrastructure.aws.sagemaker_training import (
    SageMakerTrainingJobs,
    TrainingJobInputs,
    TrainingJobSpec,
)
from llm_twin.model.finetuning.config import TrainingConfig
from llm_twin.settings import Settings

__all__ = ["SageMakerTrainingLauncher", "TrainingJobSpec", "job_inputs"]


def _offline_base_model(settings: Settings) -> Path:
    """The prepared offline base model folder.

    Raises:
        ImproperlyConfigured: it is not prepared locally.
    """
    from llm_twin.model.base_model import base_model_dir, is_prepared

    base = base_model_dir(settings)
    if not is_prepared(base):
        raise ImproperlyConfigured(
            f"the offline base model is not prepared at {base}: run "
            "`poe prepare-base-model` first (the job trains on the same weights)"
        )
    return base


def job_inputs(config: TrainingConfig, settings: Settings) -> TrainingJobInputs:
    """What a job training ``config`` uploads: the dataset versions it names (resolved now), the
    offline base model when it uses it, and the config with those versions pinned.

    Args:
        config: The validated training config.
        settings: DATA_DIR (datasets, base model).

    Raises:
        InvalidInput: a dataset the config names is missing.
        ImproperlyConfigured: the offline base model is not prepared locally.
    """
    import yaml

    from llm_twin.application.dataset import store
    from llm_twin.model.finetuning.run import resolve_dataset_versions

    versions = resolve_dataset_versions(config, settings)
    datasets = {
        f"{kind}/{version}": store.resolve(settings.storage.data_dir, kind, version)
        for kind, version in versions.items()
        if version
    }
    channels = {"datasets": datasets}
    if config.uses_offline_base:
        channels["base_model"] = {"": _offline_base_model(settings)}
    # The job trains on exactly the versions resolved here, whatever "latest" becomes.
    pinned = config.model_copy(
        update={
            "instruct_dataset_version": versions["instruct"],
            "preference_dataset_version": versions["preference"] or "latest",
        }
    )
    return TrainingJobInputs(
        config_text=yaml.safe_dump({"parameters": pinned.model_dump(mode="json")}),
        channels=channels,
        hyperparameters={"dataset_versions": versions},
    )


class SageMakerTrainingLauncher(SageMakerTrainingJobs):
    """Starts training runs (config files) as SageMaker training jobs; :meth:`status` reports
    on them.

    Args:
        spec: Where and how the job runs.
        settings: DATA_DIR (datasets, base model), AWS region and credentials, Comet settings.
        session: A ``boto3.Session`` (default: one from the settings' credentials or the
            default chain).
    """

    def launch(self, config_path: Path, job_name: str | None = None) -> str:
        """Upload everything the config needs and create the training job; return its name.

        Args:
            config_path: A ``configs/training*.yaml`` file.
            job_name: Job name (default ``llm-twin-<UTC time>``).

        Raises:
            InvalidInput: the config is invalid or a dataset it names is missing.
            ImproperlyConfigured: the offline base model is not prepared locally.
        """
        from llm_twin.model.finetuning.config import load_config_file

        inputs = job_inputs(load_config_file(config_path), self.settings)
        return self.start(inputs, job_name)
