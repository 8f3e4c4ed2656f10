"""The SageMaker training launcher against moto's S3 and SageMaker: what it uploads, the job it
creates, and the entry point run on the uploaded inputs as the container would run it."""

import io
import json
import tarfile
from pathlib import Path

import pytest

from tests.model.conftest import build_tiny_model, save_datasets

ROOT = Path(__file__).resolve().parents[3]
REGION = "eu-central-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch):
    from moto import mock_aws

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        import boto3

        session = boto3.Session(region_name=REGION)
        session.client("s3").create_bucket(
            Bucket="twin-bucket", CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        yield session


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    from llm_twin.model.base_model import MARKER_FILE, base_model_dir
    from llm_twin.settings import Settings

    data = tmp_path / "data"
    save_datasets(data)
    base = base_model_dir(Settings(_env_file=None, DATA_DIR=data))
    build_tiny_model(base)
    (base / MARKER_FILE).write_text("{}")
    return data


def write_config(path: Path) -> Path:
    import yaml

    parameters = {
        "device": "cpu",
        "tracking": "none",
        "lora": {"r": 4, "alpha": 8},
        "sft": {
            "max_steps": 2,
            "batch_size": 6,
            "gradient_accumulation_steps": 1,
            "max_length": 128,
        },
        "dpo": {
            "max_steps": 2,
            "batch_size": 6,
            "gradient_accumulation_steps": 1,
            "max_length": 128,
        },
    }
    path.write_text(yaml.safe_dump({"parameters": parameters}))
    return path


def download(s3, prefix: str, target: Path) -> int:
    count = 0
    for item in s3.list_objects_v2(Bucket="twin-bucket", Prefix=prefix + "/").get("Contents", []):
        destination = target / item["Key"][len(prefix) + 1 :]
        destination.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file("twin-bucket", item["Key"], str(destination))
        count += 1
    return count


def test_launch_uploads_inputs_and_creates_the_job(
    aws, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from llm_twin.model.finetuning.sagemaker_launch import (
        SageMakerTrainingLauncher,
        TrainingJobSpec,
    )
    from llm_twin.settings import Settings

    torch.set_num_threads(1)
    settings = Settings(_env_file=None, DATA_DIR=data_dir, AWS_REGION=REGION)
    spec = TrainingJobSpec(role_arn=ROLE, bucket="twin-bucket", spot=True)
    config = write_config(tmp_path / "training.yaml")
    launcher = SageMakerTrainingLauncher(spec, settings, session=aws)
    name = launcher.launch(config, job_name="twin-job-1")

    job = aws.client("sagemaker").describe_training_job(TrainingJobName=name)
    assert job["RoleArn"] == ROLE
    assert job["ResourceConfig"]["InstanceType"] == "ml.g5.2xlarge"
    assert REGION in job["AlgorithmSpecification"]["TrainingImage"]
    assert job["EnableManagedSpotTraining"] is True
    hyper = {key: json.loads(value) for key, value in job["HyperParameters"].items()}
    assert hyper["sagemaker_program"] == "sagemaker_entry.py"
    assert hyper["config"] == "training_config.yaml"
    channels = {
        c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in job["InputDataConfig"]
    }
    prefix = "llm-twin/training/twin-job-1"
    assert channels == {
        "datasets": f"s3://twin-bucket/{prefix}/datasets",
        "base_model": f"s3://twin-bucket/{prefix}/base_model",
    }
    assert job["CheckpointConfig"]["LocalPath"] == "/opt/ml/checkpoints"
    assert launcher.status(name)["job_name"] == name

    s3 = aws.client("s3")
    source = s3.get_object(Bucket="twin-bucket", Key=f"{prefix}/source/sourcedir.tar.gz")
    with tarfile.open(fileobj=io.BytesIO(source["Body"].read())) as archive:
        names = set(archive.getnames())
        entry = archive.extractfile("sagemaker_entry.py").read().decode()
        shipped_config = archive.extractfile("training_config.yaml").read().decode()
    assert {"sagemaker_entry.py", "training_config.yaml", "requirements.txt"} <= names
    assert "llm_twin/model/finetuning/run.py" in names
    assert "llm_twin.model.finetuning" in entry

    # The shipped config pins the dataset versions resolved at launch.
    assert "instruct_dataset_version: latest" not in shipped_config
    container_config = tmp_path / "training_config.yaml"
    container_config.write_text(shipped_config)

    # The container's view: channels downloaded, the entry point trains on them.
    channel_root = tmp_path / "opt-ml"
    assert download(s3, f"{prefix}/datasets", channel_root / "datasets") >= 4
    assert download(s3, f"{prefix}/base_model", channel_root / "base_model") >= 3
    model_dir = tmp_path / "sm-model"
    monkeypatch.setenv("SM_MODEL_DIR", str(model_dir))
    monkeypatch.setenv("SM_CHANNEL_DATASETS", str(channel_root / "datasets"))
    monkeypatch.setenv("SM_CHANNEL_BASE_MODEL", str(channel_root / "base_model"))
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "checkpoints"))
    from llm_twin.model.finetuning.__main__ import main
    from llm_twin.settings import get_settings

    get_settings.cache_clear()
    try:
        assert main(["--config", str(container_config), "--sagemaker_program", "x"]) == 0
    finally:
        get_settings.cache_clear()
    summary = json.loads((model_dir / "training_summary.json").read_text())
    assert summary["metrics"]["sft_steps"] == 2 and summary["metrics"]["dpo_steps"] == 2
    assert (model_dir / "model" / "config.json").is_file()
    assert (model_dir / "adapters" / "dpo" / "adapter_config.json").is_file()


def test_launch_refuses_without_datasets_or_base_model(aws, tmp_path: Path) -> None:
    from llm_twin.domain.exceptions import ImproperlyConfigured, InvalidInput
    from llm_twin.model.finetuning.sagemaker_launch import (
        SageMakerTrainingLauncher,
        TrainingJobSpec,
    )
    from llm_twin.settings import Settings

    spec = TrainingJobSpec(role_arn=ROLE, bucket="twin-bucket")
    config = write_config(tmp_path / "training.yaml")
    empty = Settings(_env_file=None, DATA_DIR=tmp_path / "empty", AWS_REGION=REGION)
    with pytest.raises(InvalidInput, match="no instruct dataset"):
        SageMakerTrainingLauncher(spec, empty, session=aws).launch(config)
    data = tmp_path / "data-only"
    save_datasets(data)
    settings = Settings(_env_file=None, DATA_DIR=data, AWS_REGION=REGION)
    with pytest.raises(ImproperlyConfigured, match="offline base model is not prepared"):
        SageMakerTrainingLauncher(spec, settings, session=aws).launch(config)
    assert not aws.client("sagemaker").list_training_jobs()["TrainingJobSummaries"]
