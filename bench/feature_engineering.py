"""Benchmark of the feature engineering sync on the shared sample corpus (76 articles).

    python -m bench.feature_engineering [--dir DIR] [--threads N] [--zenml]

Uses a fresh temporary DATA_DIR (its own embedded warehouse and vector store), imports the
corpus, loads the embedder once (timed apart), then measures:

1. first run: clean + chunk + embed (dense + BM25 sparse) + load everything: wall time, chunks,
   pipeline chunks/s, seconds per stage;
2. the raw encoder alone on exactly the same chunk texts, in the same process: chunks/s, and
   the ratio pipeline / encoder (goal >= 0.9); on a busy machine the two passes see different
   load, so the encoder's share of the pipeline's own wall time is printed too;
3. second run: wall time and chunks embedded (goal: seconds, 0);
4. with ``--zenml``: the same two runs through ``tools.run feature_engineering`` (ZenML, new
   processes, model load included), for the end-to-end cost.

Prints one line per figure and a JSON line with all of them at the end.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer

from llm_twin.application.warehouse_json import SAMPLE_DIR

app = typer.Typer(add_completion=False)


def _print(label: str, value: object) -> None:
    print(f"{label:<42} {value}", flush=True)


@app.command()
def main(
    directory: Annotated[Path, typer.Option("--dir", help="Warehouse JSON export")] = SAMPLE_DIR,
    threads: Annotated[int, typer.Option(help="torch threads (0: torch default)")] = 0,
    zenml: Annotated[bool, typer.Option("--zenml", help="Also time the ZenML pipeline")] = False,
) -> None:
    """Run the benchmark and print its figures."""
    data_dir = Path(tempfile.mkdtemp(prefix="llm-twin-bench-fe-"))
    os.environ["DATA_DIR"] = str(data_dir)
    os.environ.pop("DATABASE_HOST", None)
    os.environ.pop("QDRANT_URL", None)
    os.environ["DATABASE_NAME"] = "bench"

    from llm_twin.settings import apply_offline_defaults, get_settings

    get_settings.cache_clear()
    apply_offline_defaults()
    import torch

    if threads:
        torch.set_num_threads(threads)
    from llm_twin.application.embeddings import get_embedder
    from llm_twin.application.preprocessing.handlers import chunk_embedding_text
    from llm_twin.application.preprocessing.sync import FeatureSync
    from llm_twin.application.sparse import Bm25SparseEncoder
    from llm_twin.application.warehouse_json import import_directory
    from llm_twin.domain.features import EMBEDDED_CHUNKS_COLLECTION
    from llm_twin.infrastructure.db.embedded_mongo import EmbeddedMongo
    from llm_twin.infrastructure.db.mongo import open_warehouse
    from llm_twin.infrastructure.db.vector_store import open_vector_store

    settings = get_settings()
    figures: dict[str, object] = {
        "torch_threads": torch.get_num_threads(),
        "data_dir": str(data_dir),
    }
    try:
        with open_warehouse(settings) as warehouse:
            import_directory(warehouse, directory)
            figures["documents"] = sum(
                count for name, count in warehouse.counts().items() if name != "users"
            )
            started = time.perf_counter()
            embedder = get_embedder(settings.rag.embedding_model_id, settings.rag.embedding_device)
            embedder.embed(["warm-up"])
            figures["model_load_s"] = round(time.perf_counter() - started, 2)

            with open_vector_store(settings) as store:
                sync = FeatureSync(warehouse, store, embedder, Bm25SparseEncoder())
                started = time.perf_counter()
                first = sync.run()
                first_s = time.perf_counter() - started
                texts = [
                    chunk_embedding_text(p.payload.get("title"), p.payload["content"])
                    for p in store.scroll(EMBEDDED_CHUNKS_COLLECTION)
                ]
                started = time.perf_counter()
                embedder.embed(texts)
                encoder_s = time.perf_counter() - started
                started = time.perf_counter()
                second = sync.run()
                second_s = time.perf_counter() - started
                artifact_s, artifact_mb = _artifact_cost(store, data_dir)

        figures |= {
            "first_run_s": round(first_s, 2),
            "chunks": first.chunks_embedded,
            "chunks_total": first.chunks_total,
            "pipeline_chunks_per_s": round(first.chunks_embedded / first_s, 2),
            "encoder_chunks_per_s": round(len(texts) / encoder_s, 2),
            "ratio_pipeline_to_encoder": round(encoder_s / first_s, 3),
            # The same ratio from inside the run (immune to load changing between passes):
            # the share of the pipeline's wall time the encoder was busy.
            "encoder_share_of_pipeline": round(first.seconds["embed_dense"] / first_s, 3),
            "stage_seconds": first.seconds,
            "second_run_s": round(second_s, 2),
            "second_run_chunks_embedded": second.chunks_embedded,
            "second_run_documents_skipped": second.documents_skipped,
            "embedded_chunks_artifact_roundtrip_s": artifact_s,
            "embedded_chunks_artifact_mb": artifact_mb,
        }
        if zenml:
            figures |= _zenml_runs(data_dir)
    finally:
        EmbeddedMongo(settings.warehouse_dir).stop()
    for key, value in figures.items():
        _print(key, value)
    print(json.dumps(figures), flush=True)


def _artifact_cost(store: object, data_dir: Path) -> tuple[float, float]:
    """Seconds to write and read back every embedded chunk as one JSON artifact, as ZenML's
    pydantic materializer would between separate chunk -> embed -> load steps (the cost the
    fused step avoids, counted once per hand-over)."""
    from pydantic import TypeAdapter

    from llm_twin.domain.features import EMBEDDED_CHUNKS_COLLECTION, EmbeddedChunk

    chunks = [
        EmbeddedChunk.model_validate({"id": p.id, **p.payload, "embedding": p.vector})
        for p in store.scroll(EMBEDDED_CHUNKS_COLLECTION, with_vectors=True)  # type: ignore[attr-defined]
    ]
    adapter = TypeAdapter(list[EmbeddedChunk])
    path = data_dir / "artifact.json"
    started = time.perf_counter()
    path.write_bytes(adapter.dump_json(chunks))
    adapter.validate_json(path.read_bytes())
    seconds = time.perf_counter() - started
    return round(seconds, 2), round(path.stat().st_size / 1e6, 1)


def _zenml_runs(data_dir: Path) -> dict[str, object]:
    """Time two ``tools.run feature_engineering`` runs (fresh processes, ZenML included)."""
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, ZENML_CONFIG_PATH=str(data_dir / "zenml"), PYTHONPATH=str(root))
    figures: dict[str, object] = {}
    for folder in ("qdrant", "qdrant_edge"):  # the first ZenML run starts empty (either backend)
        shutil.rmtree(data_dir / folder, ignore_errors=True)
    for label in ("zenml_first", "zenml_second"):
        started = time.perf_counter()
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "tools.run",
                "feature_engineering",
                "--config",
                str(root / "configs" / "feature_engineering.yaml"),
                "--no-cache",
            ],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        figures[f"{label}_wall_s"] = round(time.perf_counter() - started, 2)
        if result.returncode != 0:
            raise RuntimeError(f"{label} failed:\n{result.stderr[-3000:]}")
        figures[f"{label}_summary"] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


if __name__ == "__main__":
    app()
