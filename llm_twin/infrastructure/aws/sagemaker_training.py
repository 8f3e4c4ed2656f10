"""Run the same training on a SageMaker GPU instance (for users who outgrow the laptop).

:class:`SageMakerTrainingJobs` uploads to S3 what the caller prepared (:class:`TrainingJobInputs`:
the training config and the local folders of each input channel) with the project's code and a
one-line entry script (``sourcedir.tar.gz``), then calls ``CreateTrainingJob`` with a Hugging
Face PyTorch training container. In the container the entry script runs
``python -m llm_twin.model.finetuning`` (the code the pipeline runs), with ``DATA_DIR`` on the
job's checkpoint folder (synced to S3, so spot interruptions resume) and the result in
``/opt/ml/model`` (``model.tar.gz`` in the output path). Which datasets and base model a config
needs is the training's business (``llm_twin.model.finetuning.sagemaker_launch``).
"""

import dataclasses
import io
import json
import tarfile
import time
from pathlib import Path
from typing import Any

from loguru import logger

from llm_twin.infrastructure.aws.session import SageMakerService
from llm_twin.settings import PROJECT_ROOT

#: Hugging Face PyTorch training container (transformers 4.49 / PyTorch 2.5 / CUDA 12.4).
#: Its requirements.txt step installs this project's training dependencies on top.
DEFAULT_IMAGE = (
    "763104351884.dkr.ecr.{region}.amazonaws.com/huggingface-pytorch-training:"
    "2.5.1-transformers4.49.0-gpu-py311-cu124-ubuntu22.04"
)
ENTRY_SCRIPT = "sagemaker_entry.py"
CONFIG_NAME = "training_config.yaml"
#: Installed in the container before the entry script runs.
REQUIREMENTS = [
    "transformers>=5",
    "trl>=1.0",
    "peft>=0.17",
    "accelerate>=1.5",
    "datasets>=4",
    "bitsandbytes>=0.45",
    "comet-ml>=3.49",
    "matplotlib>=3.8",
    "pydantic>=2.10,<2.13",
    "pydantic-settings>=2.6",
    "loguru>=0.7",
    "pyyaml>=6",
    "typer>=0.15",
]
ENTRY = (
    "# Written by llm_twin.infrastructure.aws.sagemaker_training: run the project's training.\n"
    "import runpy\n\n"
    "runpy.run_module('llm_twin.model.finetuning', run_name='__main__')\n"
)


@dataclasses.dataclass(frozen=True)
class TrainingJobSpec:
    """Where and how the job runs.

    Attributes:
        role_arn: IAM role SageMaker assumes (S3 access to ``bucket``, ECR pull, logs).
        bucket: S3 bucket for code, data, checkpoints and outputs.
        prefix: Key prefix under the bucket.
        instance_type: GPU instance, e.g. ``ml.g5.2xlarge`` (one A10G 24 GB).
        image_uri: Training container; ``{region}`` is filled in.
        volume_gb: EBS volume of the instance.
        max_runtime_s: Hard time limit of the job.
        spot: Use managed spot capacity (cheaper; resumes from checkpoints when interrupted).
    """

    role_arn: str
    bucket: str
    prefix: str = "llm-twin/training"
    instance_type: str = "ml.g5.2xlarge"
    image_uri: str = DEFAULT_IMAGE
    volume_gb: int = 100
    max_runtime_s: int = 24 * 3600
    spot: bool = False


@dataclasses.dataclass(frozen=True)
class TrainingJobInputs:
    """What one job trains on, prepared by the caller.

    Attributes:
        config_text: The training config (YAML) shipped in the source archive.
        channels: Input channel name -> {path under the channel: local folder to upload}
            (``{"datasets": {"instruct/v1": folder}, "base_model": {"": folder}}``); the
            container finds each channel under ``/opt/ml/input/data/<name>``.
        hyperparameters: Extra job hyperparameters (JSON-able), e.g. the dataset versions.
    """

    config_text: str
    channels: dict[str, dict[str, Path]]
    hyperparameters: dict[str, object] = dataclasses.field(default_factory=dict)


def source_archive(config_text: str, root: Path = PROJECT_ROOT) -> bytes:
    """The ``sourcedir.tar.gz``: the ``llm_twin`` package, the config, requirements, entry."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(
            root / "llm_twin",
            arcname="llm_twin",
            filter=lambda info: None if "__pycache__" in info.name else info,
        )
        for name, text in (
            (ENTRY_SCRIPT, ENTRY),
            (CONFIG_NAME, config_text),
            ("requirements.txt", "\n".join(REQUIREMENTS) + "\n"),
        ):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = int(time.time())
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class SageMakerTrainingJobs(SageMakerService[TrainingJobSpec]):
    """Uploads a training job's inputs and starts it as a SageMaker training job.

    Args:
        spec: Where and how the job runs.
        settings: AWS region and credentials, Comet project.
        session: A ``boto3.Session`` (default: one from the settings' credentials or the
            default chain).
    """

    def _upload_folder(self, folder: Path, key_prefix: str) -> int:
        count = 0
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                key = f"{key_prefix}/{path.relative_to(folder).as_posix()}"
                self.s3.upload_file(str(path), self.spec.bucket, key)
                count += 1
        return count

    def _upload_channels(self, inputs: TrainingJobInputs, prefix: str) -> list[dict[str, Any]]:
        """Upload every channel's folders under ``prefix/<channel>``; the channel list."""
        channels = []
        for name, folders in inputs.channels.items():
            channel_prefix = f"{prefix}/{name}"
            for subpath, folder in folders.items():
                key_prefix = f"{channel_prefix}/{subpath}" if subpath else channel_prefix
                self._upload_folder(folder, key_prefix)
            channels.append(_channel(name, f"s3://{self.spec.bucket}/{channel_prefix}"))
        return channels

    def _job_request(
        self,
        job_name: str,
        prefix: str,
        source_key: str,
        channels: list[dict[str, Any]],
        extra_hyperparameters: dict[str, object],
    ) -> dict[str, Any]:
        """The ``CreateTrainingJob`` parameters."""
        bucket = self.spec.bucket
        hyperparameters = {
            "sagemaker_program": ENTRY_SCRIPT,
            "sagemaker_submit_directory": f"s3://{bucket}/{source_key}",
            "sagemaker_region": self.region,
            "config": CONFIG_NAME,
            **extra_hyperparameters,
        }
        stopping: dict[str, int] = {"MaxRuntimeInSeconds": self.spec.max_runtime_s}
        if self.spec.spot:
            stopping["MaxWaitTimeInSeconds"] = self.spec.max_runtime_s * 2
        return {
            "TrainingJobName": job_name,
            # The training toolkit reads every hyperparameter as JSON (as the SageMaker SDK
            # writes them).
            "HyperParameters": {key: json.dumps(value) for key, value in hyperparameters.items()},
            "AlgorithmSpecification": {
                "TrainingImage": self.spec.image_uri.format(region=self.region),
                "TrainingInputMode": "File",
            },
            "RoleArn": self.spec.role_arn,
            "InputDataConfig": channels,
            "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/{prefix}/output"},
            "ResourceConfig": {
                "InstanceType": self.spec.instance_type,
                "InstanceCount": 1,
                "VolumeSizeInGB": self.spec.volume_gb,
            },
            "StoppingCondition": stopping,
            "EnableManagedSpotTraining": self.spec.spot,
            "CheckpointConfig": {
                "S3Uri": f"s3://{bucket}/{prefix}/checkpoints",
                "LocalPath": "/opt/ml/checkpoints",
            },
            "Environment": {
                "OFFLINE": "false",
                "COMET_PROJECT": self.settings.training.comet_project,
            },
            "Tags": [{"Key": "project", "Value": "llm-twin"}],
        }

    def start(self, inputs: TrainingJobInputs, job_name: str | None = None) -> str:
        """Upload ``inputs`` and the code and create the training job; return its name.

        Args:
            inputs: The config and the folders of each input channel.
            job_name: Job name (default ``llm-twin-<UTC time>``).
        """
        job_name = job_name or time.strftime("llm-twin-%Y%m%d-%H%M%S", time.gmtime())
        prefix = f"{self.spec.prefix}/{job_name}"
        channels = self._upload_channels(inputs, prefix)
        source_key = f"{prefix}/source/sourcedir.tar.gz"
        self.s3.put_object(
            Bucket=self.spec.bucket, Key=source_key, Body=source_archive(inputs.config_text)
        )
        request = self._job_request(job_name, prefix, source_key, channels, inputs.hyperparameters)
        self.sagemaker.create_training_job(**request)
        logger.info("SageMaker training job {} created ({})", job_name, self.spec.instance_type)
        return job_name

    def status(self, job_name: str) -> dict[str, Any]:
        """The job's status, secondary status, failure reason and model artifact (if done)."""
        job = self.sagemaker.describe_training_job(TrainingJobName=job_name)
        return {
            "job_name": job_name,
            "status": job.get("TrainingJobStatus"),
            "secondary_status": job.get("SecondaryStatus"),
            "failure_reason": job.get("FailureReason"),
            "model_artifacts": (job.get("ModelArtifacts") or {}).get("S3ModelArtifacts"),
        }


def _channel(name: str, uri: str) -> dict[str, Any]:
    return {
        "ChannelName": name,
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri": uri,
                "S3DataDistributionType": "FullyReplicated",
            }
        },
    }
