"""List the registered model versions and move them between stages.

    python -m tools.models list [--json] [--name llm-twin]
    python -m tools.models promote --version 3 --stage production
    python -m tools.models export --version 3 [--format ct2] [--force]

``list --json`` prints one JSON object per line (version, stage, base_model, path, created_at,
metrics, exports, ...); ``export`` writes a version's int8 CTranslate2 folder (versions registered
before exports existed; new versions get it at registration); ``promote`` updates the local
registry and ZenML's Model Control Plane (a new production version archives the previous one).
"""

import json
from typing import Annotated

import typer

from tools.cli import setup

app = typer.Typer(add_completion=False, no_args_is_help=True)

NAME_OPTION = typer.Option("--name", help="Model name in the registry")
SHOWN_METRICS = ("sft_loss_end", "dpo_reward_margin_end", "sft_steps", "dpo_steps")


@app.command("list")
def list_models(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line")] = False,
    name: Annotated[str, NAME_OPTION] = "llm-twin",
) -> None:
    """List the versions of model NAME, oldest first."""
    setup()
    from llm_twin.model.registry import ModelRegistry, registry_root

    versions = ModelRegistry(registry_root(), name, zenml=False).versions()
    if as_json:
        for version in versions:
            typer.echo(json.dumps(version.to_json()))
        return
    if not versions:
        typer.echo(f"no versions of {name!r} yet: run `poe run-training-pipeline`")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"model {name}")
    columns = ("version", "stage", "created_at", "base_model", *SHOWN_METRICS, "exports", "path")
    for column in columns:
        table.add_column(column)
    for version in versions:
        metrics = [
            f"{version.metrics[key]:.4g}" if key in version.metrics else "-"
            for key in SHOWN_METRICS
        ]
        table.add_row(
            str(version.version),
            version.stage,
            version.created_at,
            version.base_model,
            *metrics,
            ", ".join(version.to_json()["exports"]) or "-",
            str(version.model_dir),
        )
    Console(width=200).print(table)


@app.command()
def promote(
    version: Annotated[int, typer.Option("--version", help="Version number to move")],
    stage: Annotated[str, typer.Option("--stage", help="none, staging, production, archived")],
    name: Annotated[str, NAME_OPTION] = "llm-twin",
) -> None:
    """Move VERSION of model NAME to STAGE (here and in ZenML's Model Control Plane)."""
    setup()
    from llm_twin.domain.exceptions import LLMTwinError
    from llm_twin.model.registry import ModelRegistry, registry_root

    try:
        moved = ModelRegistry(registry_root(), name).promote(version, stage)
    except LLMTwinError as error:
        typer.secho(f"error: {error}", fg="red", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(moved.to_json()))


@app.command("export")
def export(
    version: Annotated[int, typer.Option("--version", help="Version number to export")],
    fmt: Annotated[
        str, typer.Option("--format", help="ct2 (int8 CTranslate2); gguf: see README")
    ] = "ct2",
    force: Annotated[bool, typer.Option("--force", help="Convert again if it exists")] = False,
    name: Annotated[str, NAME_OPTION] = "llm-twin",
) -> None:
    """Write VERSION's export in FORMAT beside its model folder and record it."""
    setup()
    from llm_twin.domain.exceptions import LLMTwinError
    from llm_twin.model.export import export_version
    from llm_twin.model.registry import ModelRegistry, registry_root

    try:
        exported = export_version(
            ModelRegistry(registry_root(), name, zenml=False), version, fmt, force=force
        )
    except LLMTwinError as error:
        typer.secho(f"error: {error}", fg="red", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(exported.to_json()))


if __name__ == "__main__":
    app()
