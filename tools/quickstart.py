"""The main job on the embedded defaults: the whole offline loop, stage by stage.

    python -m tools.quickstart [--dir DIR]

Imports the sample corpus into the warehouse, then runs each pipeline of ``STAGES`` with its
config (each prints its own JSON summary, collected here). Progress goes to stderr; stdout gets
one JSON object with the counts and timings of every stage. Every stage is idempotent, so a
second run does (almost) nothing.
"""

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from llm_twin.settings import PROJECT_ROOT
from tools.data_warehouse import SAMPLE_DIR

app = typer.Typer(add_completion=False)


def _pipeline(name: str) -> list[str]:
    """Arguments that run pipeline ``name`` with its config ``configs/<name>.yaml``."""
    return ["-m", "tools.run", name, "--config", f"configs/{name}.yaml"]


#: (stage name, command run with this interpreter from the project root). Each command prints
#: one JSON summary line on stdout.
STAGES: list[tuple[str, list[str]]] = [
    ("feature_engineering", _pipeline("feature_engineering")),
    ("prepare_base_model", ["-m", "tools.prepare_base_model"]),
    ("generate_instruct_datasets", _pipeline("generate_instruct_datasets")),
    ("generate_preference_datasets", _pipeline("generate_preference_datasets")),
    ("training", _pipeline("training")),
]

#: What to do next, printed at the end (the service is left to the user: it holds the
#: embedded vector store while it runs).
NEXT_STEPS = [
    ".venv/bin/poe call-rag-retrieval-module --query 'How does Maxime merge models?'",
    ".venv/bin/poe list-models",
    ".venv/bin/poe run-inference-ml-service   # then open http://127.0.0.1:8000/",
]


def _stage(name: str) -> None:
    print(f"==> {name}", file=sys.stderr, flush=True)


def run_stage(name: str, arguments: list[str]) -> dict[str, Any]:
    """Run one stage's command; return its JSON summary (raise on failure)."""
    _stage(name)
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, *arguments], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True
    )
    lines = result.stdout.strip().splitlines()
    try:
        summary = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:  # a tool that prints a plain result (e.g. a folder)
        summary = {
            "status": "completed" if result.returncode == 0 else "failed",
            "output": lines[-1],
        }
    if result.returncode != 0:
        raise RuntimeError(f"stage {name} failed (exit {result.returncode}); its log is above")
    summary["wall_s"] = round(time.perf_counter() - started, 2)
    return summary


@app.command()
def main(
    directory: Annotated[
        Path, typer.Option("--dir", "-d", help="Warehouse JSON export to load")
    ] = SAMPLE_DIR,
    stages_option: Annotated[
        str,
        typer.Option(
            "--stages", help="Comma-separated stages to run after the import (default: all)"
        ),
    ] = "",
) -> None:
    """Import DIR, run the pipeline stages and print what the stores hold."""
    known = [name for name, _ in STAGES]
    chosen = [name.strip() for name in stages_option.split(",") if name.strip()] or known
    unknown = [name for name in chosen if name not in known]
    if unknown:
        typer.secho(
            f"error: unknown stage(s) {', '.join(unknown)} (known: {', '.join(known)})",
            fg="red",
            err=True,
        )
        raise typer.Exit(2)

    from llm_twin.application.warehouse_json import import_directory
    from llm_twin.domain.exceptions import LLMTwinError
    from llm_twin.domain.features import CLEANED_DOCUMENTS_COLLECTION, EMBEDDED_CHUNKS_COLLECTION
    from llm_twin.infrastructure.db.mongo import open_warehouse
    from llm_twin.infrastructure.db.vector_store import open_vector_store
    from llm_twin.logs import configure_logging
    from llm_twin.settings import apply_offline_defaults, get_settings

    apply_offline_defaults()
    configure_logging()
    settings = get_settings()
    summary: dict[str, Any] = {}
    timings: dict[str, float] = {}
    try:
        started = time.perf_counter()
        _stage(f"import {directory} into the warehouse ({settings.masked_database_host()})")
        with open_warehouse(settings) as warehouse:
            results = import_directory(warehouse, directory)
            summary["warehouse"] = warehouse.counts()
        summary["imported"] = {name: vars(result) for name, result in results.items()}
        timings["import"] = round(time.perf_counter() - started, 2)

        stages: dict[str, Any] = {}
        for name, arguments in STAGES:
            if name not in chosen:
                continue
            stages[name] = run_stage(name, arguments)
            timings[name] = stages[name]["wall_s"]
        summary["stages"] = {
            name: {key: stage[key] for key in ("status", "counts", "output") if key in stage}
            for name, stage in stages.items()
        }

        with open_vector_store(settings) as store:
            summary["vector_store"] = {
                name: store.count(name)
                for name in (CLEANED_DOCUMENTS_COLLECTION, EMBEDDED_CHUNKS_COLLECTION)
            }
    except (LLMTwinError, RuntimeError) as error:
        typer.secho(f"error: {error}", fg="red", err=True)
        raise typer.Exit(2) from None
    summary["timings_s"] = timings
    summary["next"] = NEXT_STEPS
    print(json.dumps(summary))
    print("\nNext:\n  " + "\n  ".join(NEXT_STEPS), file=sys.stderr)


if __name__ == "__main__":
    app()
