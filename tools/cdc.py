"""Watch the warehouse and apply every change to the vector store (change data capture).

    python -m tools.cdc [--mode auto|poll|stream] [--interval 2] [--once]

``auto`` uses MongoDB change streams when the warehouse is a replica set (``DATABASE_HOST``
pointing at one) and polls ``updated_at`` otherwise (the embedded warehouse). The position is
kept in ``DATA_DIR/cdc/state-<mode>.json``: stop it (Ctrl-C or kill) and start it again, and it
continues where it stopped. The embedded vector store is opened only while a batch of changes
is applied, so the pipeline can use it in between; while the inference service holds it, the
changes are written through the service (and are searchable there at once).
"""

import contextlib
import signal
import sys
from types import FrameType
from typing import Annotated

import typer

app = typer.Typer(add_completion=False)


@app.command()
def main(
    mode: Annotated[str, typer.Option(help="auto, poll or stream")] = "auto",
    interval: Annotated[float, typer.Option(help="Seconds between polls", min=0.1)] = 2.0,
    once: Annotated[
        bool, typer.Option("--once", help="Apply what changed since the last position and exit")
    ] = False,
    batch_documents: Annotated[int, typer.Option(help="Documents per encoder batch", min=1)] = 32,
) -> None:
    """Apply warehouse changes to the vector store until stopped."""
    from loguru import logger

    from llm_twin.application.embeddings import get_embedder
    from llm_twin.application.preprocessing.cdc import (
        CdcStateFile,
        ChangeStreamWatcher,
        PollingWatcher,
        is_replica_set,
    )
    from llm_twin.application.preprocessing.sync import FeatureSyncConfig
    from llm_twin.application.sparse import Bm25SparseEncoder
    from llm_twin.domain.exceptions import LLMTwinError
    from llm_twin.infrastructure.db.mongo import open_warehouse
    from llm_twin.infrastructure.db.vector_store import open_vector_store
    from llm_twin.logs import configure_logging
    from llm_twin.settings import apply_offline_defaults, get_settings

    if mode not in {"auto", "poll", "stream"}:
        raise typer.BadParameter(f"unknown mode {mode!r} (use auto, poll or stream)")
    apply_offline_defaults()
    configure_logging()
    settings = get_settings()
    stopping = {"flag": False}

    def _stop(signum: int, _frame: FrameType | None) -> None:
        logger.info("cdc: signal {} received, stopping after the current batch", signum)
        stopping["flag"] = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        with open_warehouse(settings) as warehouse:
            chosen = mode if mode != "auto" else ("stream" if is_replica_set(warehouse) else "poll")
            state_file = CdcStateFile(settings.storage.data_dir / "cdc" / f"state-{chosen}.json")
            embedder = get_embedder(settings.rag.embedding_model_id, settings.rag.embedding_device)
            arguments = {
                "warehouse": warehouse,
                "open_store": lambda: contextlib.closing(open_vector_store(settings)),
                "embedder": embedder,
                "sparse": Bm25SparseEncoder(),
                "state_file": state_file,
                "config": FeatureSyncConfig(batch_documents=batch_documents),
            }
            logger.info("cdc: watching {} ({} mode)", settings.masked_database_host(), chosen)
            if chosen == "stream":
                ChangeStreamWatcher(**arguments).run(
                    lambda: stopping["flag"], once=once, retry_s=interval
                )
            else:
                watcher = PollingWatcher(**arguments)
                if once:
                    watcher.poll_once()
                else:
                    watcher.run(interval, lambda: stopping["flag"])
    except LLMTwinError as error:
        typer.secho(f"error: {error}", fg="red", err=True)
        sys.exit(2)


if __name__ == "__main__":
    app()
