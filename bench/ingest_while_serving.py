"""Benchmark of ingest while serving: the feature sync of the sample corpus (76 articles) written
through the running service, against the same sync written directly to the embedded store.

    python -m bench.ingest_while_serving [--dir DIR] [--port 18200]

Uses a fresh temporary DATA_DIR (its own embedded warehouse and vector store) and imports the
corpus. Then:

1. the service starts on 127.0.0.1:PORT holding the empty embedded store (retrieval only: no
   model is loaded) and the full sync runs in this process, its writes going through the
   service: wall time, chunks, chunks/s; a ``/rag`` retrieval-only request before and after
   (the corpus is found with no restart) and its latency while idle;
2. the service stops and the same sync runs again with ``reindex`` on the store directly:
   wall time, chunks/s; the ratio of the two.

Prints one line per figure and a JSON line with all of them at the end.
"""

import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Annotated

import typer

from llm_twin.application.warehouse_json import SAMPLE_DIR

app = typer.Typer(add_completion=False)
QUESTION = "How can the refusal behaviour of a chat model be removed?"


def _print(label: str, value: object) -> None:
    print(f"{label:<44} {value}", flush=True)


def _no_llm(settings: object) -> None:
    from llm_twin.infrastructure.llm.base import LLMUnavailable

    raise LLMUnavailable("the benchmark serves retrieval only")


def _sync(settings: object, embedder: object, reindex: bool) -> tuple[float, int, str]:
    """One full feature sync; its seconds, chunks embedded and the store's class name."""
    from llm_twin.application.preprocessing.sync import FeatureSync, FeatureSyncConfig
    from llm_twin.application.sparse import Bm25SparseEncoder
    from llm_twin.infrastructure.db.mongo import open_warehouse
    from llm_twin.infrastructure.db.vector_store import open_vector_store

    started = time.perf_counter()
    with open_warehouse(settings) as warehouse, open_vector_store(settings) as store:
        sync = FeatureSync(
            warehouse, store, embedder, Bm25SparseEncoder(), FeatureSyncConfig(reindex=reindex)
        )
        report = sync.run()
        kind = type(store).__name__
    return time.perf_counter() - started, report.chunks_embedded, kind


@app.command()
def main(
    directory: Annotated[Path, typer.Option("--dir", help="Warehouse JSON export")] = SAMPLE_DIR,
    port: Annotated[int, typer.Option(help="Port of the service")] = 18200,
) -> None:
    """Run the benchmark and print its figures."""
    data_dir = Path(tempfile.mkdtemp(prefix="llm-twin-bench-iws-"))
    os.environ.update(DATA_DIR=str(data_dir), DATABASE_NAME="bench")
    for name in ("DATABASE_HOST", "QDRANT_URL", "API_KEY"):
        os.environ.pop(name, None)
    os.environ.update(API_HOST="127.0.0.1", API_PORT=str(port), API_MODEL_RELOAD_SECONDS="0")

    import httpx
    import uvicorn

    from llm_twin.application.embeddings import get_embedder
    from llm_twin.application.warehouse_json import import_directory
    from llm_twin.infrastructure.api import create_app
    from llm_twin.infrastructure.db.embedded_mongo import EmbeddedMongo
    from llm_twin.infrastructure.db.mongo import open_warehouse
    from llm_twin.logs import configure_logging
    from llm_twin.settings import apply_offline_defaults, get_settings

    get_settings.cache_clear()
    apply_offline_defaults()
    configure_logging("WARNING")
    settings = get_settings()
    figures: dict[str, object] = {"data_dir": str(data_dir)}
    try:
        with open_warehouse(settings) as warehouse:
            import_directory(warehouse, directory)
        embedder = get_embedder(settings.rag.embedding_model_id, settings.rag.embedding_device)
        embedder.embed(["load the encoder before timing"])
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(settings, llm_factory=_no_llm),
                host="127.0.0.1",
                port=port,
                log_level="warning",
            )
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}/rag"
        body = {"query": QUESTION, "retrieval_only": True}
        before = httpx.post(url, json=body, timeout=60).json()["sources"]
        seconds, chunks, kind = _sync(settings, embedder, reindex=False)
        figures |= {"through_service_s": round(seconds, 2), "chunks": chunks, "store": kind}
        figures["through_service_chunks_per_s"] = round(chunks / seconds, 1)
        started = time.perf_counter()
        after = httpx.post(url, json=body, timeout=60).json()["sources"]
        figures["rag_retrieval_ms_after"] = round((time.perf_counter() - started) * 1000, 1)
        figures["sources_before"] = len(before)
        figures["top_source_after"] = after[0]["link"] if after else None
        server.should_exit = True
        thread.join(timeout=30)

        seconds, chunks, kind = _sync(settings, embedder, reindex=True)
        figures |= {"direct_s": round(seconds, 2), "direct_store": kind}
        figures["direct_chunks_per_s"] = round(chunks / seconds, 1)
        figures["service_over_direct"] = round(
            figures["through_service_s"] / figures["direct_s"],
            2,  # type: ignore[operator]
        )
        for key, value in figures.items():
            _print(key, value)
        print(json.dumps(figures))
    finally:
        EmbeddedMongo(settings.warehouse_dir).stop()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    app()
