"""Shared helpers of the retrieval benchmarks: a sample-corpus index and link metrics."""

import json
import os
import sys
from pathlib import Path

# One implementation of the link metrics for the benchmarks and the product's RAG evaluation.
from llm_twin.application.rag.evaluation.retrieval import score, unique_links

ROOT = Path(__file__).resolve().parent.parent
DEV_QUESTIONS = Path(__file__).resolve().parent / "rag_dev_questions.jsonl"
DEFAULT_DIR = ROOT / "data" / "bench" / "rag"

__all__ = ["score", "unique_links"]


def use_data_dir(data_dir: Path) -> None:
    """Point the project's settings at ``data_dir`` (own embedded warehouse and vector store)."""
    os.environ["DATA_DIR"] = str(data_dir)
    os.environ.pop("DATABASE_HOST", None)
    os.environ.pop("QDRANT_URL", None)
    from llm_twin.settings import apply_offline_defaults, get_settings

    get_settings.cache_clear()
    apply_offline_defaults()


def index_sample_corpus(store, warehouse) -> dict:
    """Import the shared sample corpus and index it with the feature pipeline's sync code
    (idempotent: unchanged documents are skipped)."""
    from llm_twin.application.embeddings import get_embedder
    from llm_twin.application.preprocessing.sync import FeatureSync
    from llm_twin.application.sparse import Bm25SparseEncoder
    from llm_twin.application.warehouse_json import import_directory
    from tools.data_warehouse import SAMPLE_DIR

    import_directory(warehouse, SAMPLE_DIR)
    report = FeatureSync(warehouse, store, get_embedder(), Bm25SparseEncoder()).run()
    return report.counts()


def load_questions(path: Path = DEV_QUESTIONS) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
