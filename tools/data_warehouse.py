"""Warehouse CLI: import/export JSON, and start/stop/inspect the embedded server.

python -m tools.data_warehouse import-json [--dir DIR]
python -m tools.data_warehouse export-json --dir DIR
python -m tools.data_warehouse start | stop | status
"""

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from llm_twin.application.warehouse_json import SAMPLE_DIR
from tools.cli import fail, setup

app = typer.Typer(add_completion=False, no_args_is_help=True)


@app.command("import-json")
def import_json(
    directory: Annotated[
        Path,
        typer.Option("--dir", "-d", help="Folder with UserDocument.json, ArticleDocument.json…"),
    ] = SAMPLE_DIR,
) -> None:
    """Import JSON files into the warehouse (idempotent) and print the counts as JSON."""
    import pymongo

    from llm_twin.application.warehouse_json import import_directory
    from llm_twin.domain.exceptions import LLMTwinError
    from llm_twin.infrastructure.db.mongo import open_warehouse

    setup()
    try:
        with open_warehouse() as warehouse:
            results = import_directory(warehouse, directory)
            counts = warehouse.counts()
    except LLMTwinError as error:
        fail(str(error))
    except pymongo.errors.PyMongoError as error:
        # The server went away mid-import: upserts are idempotent, so a re-run completes it.
        fail(
            f"the warehouse failed during the import ({type(error).__name__}); records written "
            "so far are kept, run the import again once the warehouse is back"
        )
    summary = {
        "imported_from": str(directory),
        "results": {name: vars(result) for name, result in results.items()},
        "counts": counts,
    }
    print(json.dumps(summary))


@app.command("export-json")
def export_json(
    directory: Annotated[Path, typer.Option("--dir", "-d", help="Folder to write the files to")],
) -> None:
    """Export every collection to DIR (one JSON file per collection)."""
    from llm_twin.application.warehouse_json import export_directory
    from llm_twin.domain.exceptions import LLMTwinError
    from llm_twin.infrastructure.db.mongo import open_warehouse

    setup()
    try:
        with open_warehouse() as warehouse:
            written = export_directory(warehouse, directory)
    except LLMTwinError as error:
        fail(str(error))
    print(json.dumps({"exported_to": str(directory), "records": written}))


@app.command()
def start() -> None:
    """Start the embedded warehouse server (reuses a running one)."""
    from llm_twin.infrastructure.db.embedded_mongo import EmbeddedMongo
    from llm_twin.settings import get_settings

    setup()
    settings = get_settings()
    if not settings.uses_embedded_mongo:
        fail(f"DATABASE_HOST is set ({settings.masked_database_host()}): nothing to start")
    server = EmbeddedMongo(
        settings.warehouse_dir, settings.storage.embedded_mongo_port
    ).ensure_running()
    print(json.dumps({"pid": server.pid, "port": server.port, "uri": server.uri}))


@app.command()
def stop() -> None:
    """Stop the embedded warehouse server if it runs."""
    from llm_twin.infrastructure.db.embedded_mongo import EmbeddedMongo
    from llm_twin.settings import get_settings

    setup()
    settings = get_settings()
    stopped = EmbeddedMongo(settings.warehouse_dir).stop()
    print(json.dumps({"stopped": stopped}))


@app.command()
def status() -> None:
    """Show which warehouse is used and its counts (starts the embedded server if needed)."""
    from llm_twin.domain.exceptions import LLMTwinError
    from llm_twin.infrastructure.db.mongo import open_warehouse
    from llm_twin.settings import get_settings

    setup()
    settings = get_settings()
    try:
        with open_warehouse() as warehouse:
            counts = warehouse.counts()
    except LLMTwinError as error:
        fail(str(error))
    print(
        json.dumps(
            {
                "backend": "embedded" if settings.uses_embedded_mongo else "mongodb",
                "database_host": settings.masked_database_host(),
                "database": settings.storage.database_name,
                "counts": counts,
            }
        )
    )


if __name__ == "__main__":
    sys.exit(app())
