"""The main job on the embedded defaults: start the stores, load the sample corpus, report.

    python -m tools.quickstart [--dir DIR]

Prints progress on stderr and one JSON object on stdout with what the stores hold. Safe to run
again: every stage is idempotent.
"""

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from tools.data_warehouse import SAMPLE_DIR

app = typer.Typer(add_completion=False)


def _stage(name: str) -> None:
    print(f"==> {name}", file=sys.stderr, flush=True)


@app.command()
def main(
    directory: Annotated[
        Path, typer.Option("--dir", "-d", help="Warehouse JSON export to load")
    ] = SAMPLE_DIR,
) -> None:
    """Start the warehouse, import DIR, open the vector store and print the counts."""
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
    timings: dict[str, float] = {}
    summary: dict[str, Any] = {}
    try:
        started = time.perf_counter()
        _stage(f"warehouse: {settings.masked_database_host()}; importing {directory}")
        with open_warehouse(settings) as warehouse:
            results = import_directory(warehouse, directory)
            summary["warehouse"] = warehouse.counts()
        summary["imported"] = {name: vars(result) for name, result in results.items()}
        timings["import_s"] = round(time.perf_counter() - started, 2)

        started = time.perf_counter()
        where = settings.QDRANT_URL or str(settings.embedded_vector_store_path)
        _stage(f"vector store: {where}")
        with open_vector_store(settings) as store:
            summary["vector_store"] = {
                name: store.count(name)
                for name in (CLEANED_DOCUMENTS_COLLECTION, EMBEDDED_CHUNKS_COLLECTION)
            }
        timings["vector_store_s"] = round(time.perf_counter() - started, 2)
    except LLMTwinError as error:
        typer.secho(f"error: {error}", fg="red", err=True)
        raise typer.Exit(2) from None
    summary["timings"] = timings
    print(json.dumps(summary))


if __name__ == "__main__":
    app()
