"""Launch the training config as a SageMaker training job, or show a job's status.

    python -m tools.sagemaker_training launch --config configs/training_full.yaml \
        --role arn:aws:iam::123456789012:role/SageMakerRole --bucket my-bucket
    python -m tools.sagemaker_training status --job llm-twin-20261123-101500

AWS credentials: AWS_ACCESS_KEY / AWS_SECRET_KEY settings or the default boto3 chain;
region: AWS_REGION.
"""

import json
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True)


@app.command()
def launch(
    config: Annotated[Path, typer.Option("--config", help="configs/training*.yaml")],
    role: Annotated[str, typer.Option("--role", help="IAM role ARN SageMaker assumes")],
    bucket: Annotated[str, typer.Option("--bucket", help="S3 bucket for code, data, outputs")],
    instance_type: Annotated[str, typer.Option(help="GPU instance type")] = "ml.g5.2xlarge",
    spot: Annotated[bool, typer.Option(help="Use managed spot capacity")] = False,
    job_name: Annotated[str | None, typer.Option(help="Job name (default: timestamped)")] = None,
) -> None:
    """Upload the config's datasets (and the offline base model) and start the job."""
    from llm_twin.domain.exceptions import LLMTwinError
    from llm_twin.logs import configure_logging
    from llm_twin.model.finetuning.sagemaker_launch import (
        SageMakerTrainingLauncher,
        TrainingJobSpec,
    )

    configure_logging()
    spec = TrainingJobSpec(role_arn=role, bucket=bucket, instance_type=instance_type, spot=spot)
    try:
        name = SageMakerTrainingLauncher(spec).launch(config, job_name)
    except LLMTwinError as error:
        typer.secho(f"error: {error}", fg="red", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps({"job_name": name}))


@app.command()
def status(
    job: Annotated[str, typer.Option("--job", help="Training job name")],
    role: Annotated[str, typer.Option(help="Unused for status")] = "",
    bucket: Annotated[str, typer.Option(help="Unused for status")] = "",
) -> None:
    """Print a job's status as JSON."""
    from llm_twin.model.finetuning.sagemaker_launch import (
        SageMakerTrainingLauncher,
        TrainingJobSpec,
    )

    launcher = SageMakerTrainingLauncher(TrainingJobSpec(role_arn=role, bucket=bucket))
    typer.echo(json.dumps(launcher.status(job)))


if __name__ == "__main__":
    app()
