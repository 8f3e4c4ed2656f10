"""Shared helpers of the retrieval benchmarks: a sample-corpus index and link metrics."""

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEV_QUESTIONS = Path(__file__).resolve().parent / "rag_dev_questions.jsonl"
DEFAULT_DIR = ROOT / "data" / "bench" / "rag"


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
    from llm_twin.application.sparse import SparseEncoder
    from llm_twin.application.warehouse_json import import_directory
    from tools.data_warehouse import SAMPLE_DIR

    import_directory(warehouse, SAMPLE_DIR)
    report = FeatureSync(warehouse, store, get_embedder(), SparseEncoder()).run()
    return report.counts()


def load_questions(path: Path = DEV_QUESTIONS) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def unique_links(links: Sequence[str]) -> list[str]:
    seen: dict[str, None] = {}
    for link in links:
        seen.setdefault(link, None)
    return list(seen)


def score(ranked_links: Sequence[Sequence[str]], expected: Sequence[Sequence[str]]) -> dict:
    """recall@1/3/5 and MRR of ranked unique links (a hit is any expected link)."""
    totals = {"recall@1": 0.0, "recall@3": 0.0, "recall@5": 0.0, "mrr": 0.0}
    for links, wanted in zip(ranked_links, expected, strict=True):
        ranks = [i for i, link in enumerate(unique_links(links), start=1) if link in set(wanted)]
        first = ranks[0] if ranks else None
        for cut in (1, 3, 5):
            totals[f"recall@{cut}"] += 1.0 if first is not None and first <= cut else 0.0
        totals["mrr"] += 1.0 / first if first else 0.0
    n = max(1, len(expected))
    return {name: round(value / n, 3) for name, value in totals.items()}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
