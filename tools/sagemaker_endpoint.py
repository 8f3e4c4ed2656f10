"""Deploy a registry model version to a SageMaker real-time endpoint, show it, delete it, and
create the execution role it runs with.

    python -m tools.sagemaker_endpoint create-role            # prints SAGEMAKER_ROLE_ARN
    python -m tools.sagemaker_endpoint deploy --version production
    python -m tools.sagemaker_endpoint status
    python -m tools.sagemaker_endpoint delete

Settings: SAGEMAKER_* (endpoint name, role, bucket, container, instance type, autoscaling),
AWS_REGION, AWS_ACCESS_KEY / AWS_SECRET_KEY (or boto3's default chain). Each command prints one
JSON line on stdout; logs go to stderr.
"""

import json
from typing import Annotated, Any

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True)

EndpointOption = Annotated[
    str | None, typer.Option("--endpoint", help="Endpoint name (default SAGEMAKER_ENDPOINT_NAME)")
]


def _run(action: Any) -> None:
    """Run ``action``; a deliberate error becomes a red message and exit code 2."""
    from llm_twin.domain.exceptions import LLMTwinError
    from llm_twin.logs import configure_logging

    configure_logging()
    try:
        result = action()
    except LLMTwinError as error:
        typer.secho(f"error: {error}", fg="red", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(result))


def _deployer(endpoint: str | None, need_role: bool = True) -> Any:
    from llm_twin.infrastructure.aws.sagemaker_deploy import EndpointDeployer, EndpointSpec
    from llm_twin.settings import get_settings

    settings = get_settings()
    if need_role:
        spec = EndpointSpec.from_settings(settings, endpoint)
    else:
        # Status and delete only need the endpoint's name.
        spec = EndpointSpec(
            endpoint_name=endpoint or settings.aws.sagemaker_endpoint_name or "llm-twin",
            role_arn=settings.aws.sagemaker_role_arn or "",
            bucket=settings.aws.sagemaker_bucket or "",
        )
    return EndpointDeployer(spec, settings)


@app.command()
def deploy(
    version: Annotated[
        str, typer.Option("--version", help="Registry version number, or 'production'")
    ] = "production",
    endpoint: EndpointOption = None,
    model_name: Annotated[str | None, typer.Option(help="Registry model name")] = None,
    wait: Annotated[
        bool, typer.Option(help="Wait until in service, then register autoscaling")
    ] = True,
) -> None:
    """Create or update the endpoint serving a registry version (idempotent)."""

    def action() -> dict:
        from llm_twin.model.serving import resolve_version
        from llm_twin.settings import get_settings

        deployer = _deployer(endpoint)
        chosen = resolve_version(get_settings(), version, model_name)
        summary = deployer.deploy(chosen, wait=wait)
        summary["use_it"] = (
            f"LLM_BACKENDS=sagemaker,local SAGEMAKER_ENDPOINT_NAME={summary['endpoint']}"
        )
        return summary

    _run(action)


@app.command()
def delete(
    endpoint: EndpointOption = None,
    wait: Annotated[bool, typer.Option(help="Wait until the endpoint is gone")] = True,
) -> None:
    """Delete the endpoint, its autoscaling, endpoint config and model."""
    _run(lambda: _deployer(endpoint, need_role=False).delete(wait=wait))


@app.command()
def status(endpoint: EndpointOption = None) -> None:
    """Print the endpoint's status (``absent`` when there is none)."""
    _run(lambda: _deployer(endpoint, need_role=False).status())


@app.command("create-role")
def create_role(
    role_name: Annotated[
        str | None, typer.Option("--role-name", help="Default SAGEMAKER_ROLE_NAME")
    ] = None,
    bucket: Annotated[str | None, typer.Option(help="Default SAGEMAKER_BUCKET")] = None,
) -> None:
    """Create (or update) the SageMaker execution role; prints its ARN for SAGEMAKER_ROLE_ARN."""

    def action() -> dict:
        from llm_twin.domain.exceptions import ImproperlyConfigured
        from llm_twin.infrastructure.aws.iam import ensure_execution_role
        from llm_twin.infrastructure.aws.session import aws_session
        from llm_twin.settings import get_settings

        settings = get_settings()
        chosen_bucket = bucket or settings.aws.sagemaker_bucket
        if not chosen_bucket:
            raise ImproperlyConfigured("create-role needs --bucket or SAGEMAKER_BUCKET")
        return ensure_execution_role(
            aws_session(settings), role_name or settings.aws.sagemaker_role_name, chosen_bucket
        )

    _run(action)


if __name__ == "__main__":
    app()
