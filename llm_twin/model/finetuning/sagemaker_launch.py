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


def _pt_documents(config: TrainingConfig, settings: Settings, instruct: str) -> tuple[Path, str]:
    """Snapshot the pt stage's documents (the job has no feature store) into
    ``DATA_DIR/training/pt-corpus/<digest>/documents.jsonl``; return that folder and the file's
    path in the job's ``DATA_DIR`` (the ``datasets`` channel is copied to ``DATA_DIR/datasets``).
    """
    from llm_twin.application.dataset import store
    from llm_twin.model.finetuning.corpus import load_corpus, write_documents_file

    dataset = store.load(settings.storage.data_dir, "instruct", instruct)
    corpus = load_corpus(settings, dataset, config.pt)
    folder = settings.storage.data_dir / "training" / "pt-corpus" / corpus.digest
    write_documents_file(corpus.documents, folder / "documents.jsonl")
    return folder, f"datasets/pt-corpus/{corpus.digest}/documents.jsonl"


def job_inputs(config: TrainingConfig, settings: Settings) -> TrainingJobInputs:
    """What a job training ``config`` uploads: the dataset versions it names (resolved now), the
    pt stage's documents (a snapshot of the feature store's), the offline base model when it
    uses it, and the config with those versions and documents pinned.

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
    update: dict[str, object] = {
        "instruct_dataset_version": versions["instruct"],
        "preference_dataset_version": versions["preference"] or "latest",
    }
    if config.pt.enabled and not config.pt.documents_file:
        folder, documents_file = _pt_documents(config, settings, versions["instruct"])
        datasets[str(Path(documents_file).parent.relative_to("datasets"))] = folder
        update["pt"] = config.pt.model_copy(update={"documents_file": documents_file})
    channels = {"datasets": datasets}
    if config.uses_offline_base:
        channels["base_model"] = {"": _offline_base_model(settings)}
    # The job trains on exactly the versions (and documents) resolved here, whatever "latest"
    # becomes.
    pinned = config.model_copy(update=update)
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
