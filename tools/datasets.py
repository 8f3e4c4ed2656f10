"""List saved dataset versions and export any of them to JSONL.

    python -m tools.datasets list [--kind instruct|preference]
    python -m tools.datasets export --kind instruct [--version latest] [--out DIR]
    python -m tools.datasets show --kind preference [--version latest] [--rows 10]

Results go to stdout (JSON); errors to stderr with exit status 1.
"""

import json
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True)

KindOption = Annotated[str, typer.Option("--kind", "-k", help="instruct or preference")]
VersionOption = Annotated[str, typer.Option("--version", "-v", help="A saved version, or latest")]


def _data_dir() -> Path:
    from llm_twin.settings import get_settings

    return get_settings().storage.data_dir


def _fail(error: Exception) -> None:
    typer.echo(f"error: {error}", err=True)
    raise typer.Exit(1)


@app.command("list")
def list_versions(
    kind: Annotated[str | None, typer.Option("--kind", "-k", help="Only this kind")] = None,
) -> None:
    """Print the saved versions of each kind (oldest first) and which one is latest."""
    from llm_twin.application.dataset import store
    from llm_twin.domain.exceptions import LLMTwinError

    try:
        kinds = [kind] if kind else list(store.KINDS)
        result = {}
        for name in kinds:
            saved = store.versions(_data_dir(), name)
            latest = store.resolve(_data_dir(), name).name if saved else None
            result[name] = {"versions": saved, "latest": latest}
    except LLMTwinError as error:
        _fail(error)
    print(json.dumps(result, indent=2))


@app.command()
def export(
    kind: KindOption,
    version: VersionOption = "latest",
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder")] = Path("data/exports"),
) -> None:
    """Write each split of a version to OUT/<kind>-<version>-<split>.jsonl."""
    from llm_twin.application.dataset.export import export_jsonl
    from llm_twin.domain.exceptions import LLMTwinError

    try:
        paths = export_jsonl(_data_dir(), kind, version, out)
    except LLMTwinError as error:
        _fail(error)
    print(json.dumps({split: str(path) for split, path in paths.items()}))


@app.command()
def show(
    kind: KindOption,
    version: VersionOption = "latest",
    rows: Annotated[int, typer.Option("--rows", "-n", help="Rows to print")] = 10,
    split: Annotated[str, typer.Option("--split", help="train or test")] = "train",
    generator: Annotated[
        str | None, typer.Option("--generator", help="Only rows whose generator starts so")
    ] = None,
) -> None:
    """Print the first ROWS rows of a split as JSON lines (for reading samples)."""
    from llm_twin.application.dataset import store
    from llm_twin.domain.exceptions import LLMTwinError

    try:
        dataset = store.load(_data_dir(), kind, version)[split]
    except LLMTwinError as error:
        _fail(error)
    shown = 0
    for row in dataset:
        if generator and not str(row.get("generator", "")).startswith(generator):
            continue
        print(json.dumps(row, ensure_ascii=False))
        shown += 1
        if shown == rows:
            break


if __name__ == "__main__":
    from llm_twin.settings import apply_offline_defaults

    apply_offline_defaults()
    app()
