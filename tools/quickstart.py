"""The main job on the embedded defaults: the whole offline loop, stage by stage.

    python -m tools.quickstart [--dir DIR] [--stages end_to_end_data,training,evaluating]

Runs each pipeline of ``STAGES`` with its config: ``end_to_end_data`` (import the sample corpus
→ features → instruct and preference datasets), the smoke ``training``, then ``evaluating``
(the twin against its base model, the RAG system, the promotion gate). Each prints its own JSON
summary, collected here. Progress goes to stderr; stdout gets one JSON object with the counts and
timings of every stage and the one command that starts the service. Every stage is idempotent,
so a second run does (almost) nothing.
"""

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tools.data_warehouse import SAMPLE_DIR
from tools.stages import pipeline_arguments, run_stage

if TYPE_CHECKING:
    from llm_twin.settings import Settings

app = typer.Typer(add_completion=False)


#: (stage name, command run with this interpreter from the project root). Each command prints
#: one JSON summary line on stdout.
STAGES: list[tuple[str, list[str]]] = [
    ("end_to_end_data", pipeline_arguments("end_to_end_data")),
    ("training", pipeline_arguments("training")),
    ("evaluating", pipeline_arguments("evaluating")),
]

#: What to do next, printed at the end. The service is left to the user (first line: the one
#: command that starts it): it holds the embedded vector store while it runs.
NEXT_STEPS = [
    ".venv/bin/poe run-inference-ml-service   # then open http://127.0.0.1:8000/",
    ".venv/bin/poe list-models",
    ".venv/bin/poe dashboard   # the runs and model versions in ZenML's dashboard",
    ".venv/bin/poe call-rag-retrieval-module --query 'How does Maxime merge models?'",
]


def stage_command(name: str, arguments: list[str], directory: Path) -> list[str]:
    """``arguments`` of stage ``name``; the end-to-end stage imports ``directory`` when it is
    not the sample corpus its config names."""
    if name != "end_to_end_data" or directory == SAMPLE_DIR:
        return arguments
    return [*arguments, "--set", f"import_dir={directory.resolve()}"]


def warehouse_stopper(settings: "Settings") -> Callable[[], bool]:
    """What stops the embedded warehouse server at the end of the run if the run started it,
    so the main command leaves nothing running (a server that was already up stays up).

    Args:
        settings: The run's settings (``DATABASE_HOST`` unset: the embedded server).
    """
    from llm_twin.infrastructure.db.embedded_mongo import EmbeddedMongo

    if not settings.uses_embedded_mongo:
        return lambda: False
    server = EmbeddedMongo(settings.warehouse_dir)
    if server.status() is not None:
        return lambda: False
    return server.stop


@app.command()
def main(
    directory: Annotated[
        Path, typer.Option("--dir", "-d", help="Warehouse JSON export to load")
    ] = SAMPLE_DIR,
    stages_option: Annotated[
        str,
        typer.Option("--stages", help="Comma-separated stages to run (default: all)"),
    ] = "",
) -> None:
    """Run the pipeline stages on DIR and print what the stores hold."""
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

    from llm_twin.application.change_detection import save_state, take_snapshot
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
    stop_warehouse = warehouse_stopper(settings)
    try:
        stages: dict[str, Any] = {}
        for name, arguments in STAGES:
            if name not in chosen:
                continue
            stages[name] = run_stage(name, stage_command(name, arguments, directory))
            timings[name] = stages[name]["wall_s"]
        summary["stages"] = {
            name: {key: stage[key] for key in ("status", "counts", "metrics") if key in stage}
            for name, stage in stages.items()
        }
        with open_warehouse(settings) as warehouse:
            summary["warehouse"] = warehouse.counts()
            if "training" in stages:
                # Continuous training (tools/ct.py) compares the warehouse with this snapshot.
                model_version = stages["training"]["counts"].get("model_version")
                save_state(
                    settings.storage.data_dir, take_snapshot(warehouse), model_version=model_version
                )
        with open_vector_store(settings) as store:
            summary["vector_store"] = {
                name: store.count(name)
                for name in (CLEANED_DOCUMENTS_COLLECTION, EMBEDDED_CHUNKS_COLLECTION)
            }
    except (LLMTwinError, RuntimeError) as error:
        typer.secho(f"error: {error}", fg="red", err=True)
        raise typer.Exit(2) from None
    finally:
        stop_warehouse()
    summary["timings_s"] = timings
    summary["next"] = NEXT_STEPS
    print(json.dumps(summary))
    print("\nNext:\n  " + "\n  ".join(NEXT_STEPS), file=sys.stderr)


if __name__ == "__main__":
    app()
