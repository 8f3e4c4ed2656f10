"""Latency of ``ContextRetriever.search()`` (query embedding included) on the embedded stores.

    python -m bench.rag_latency [--data-dir DIR] [--backend edge|local|both] [--rounds 3]

Two corpora: the indexed 76-article sample (built by ``bench.rag_quality`` / the feature
pipeline code, reused) and a synthetic 10k-chunk collection made from the sample's chunks
(vectors jittered, spread over 10 authors) searched with an author filter. The models and the
store are loaded once; every question of the dev set is searched ``--rounds`` times. Prints a
table on stderr and one JSON object on stdout with p50/p95/min in milliseconds, and the same for
embedding the question alone (the model's share of each search). The machine's load average is
printed too: timings on a busy 2-core machine are dominated by waiting for a core.
"""

import argparse
import json
import os
import random
import time
import uuid
from pathlib import Path

from bench.rag_common import DEFAULT_DIR, load_questions, log, use_data_dir

SYNTHETIC = "bench_chunks_10k"
SYNTHETIC_AUTHOR_NAMES = (
    "Ada Lovelace",
    "Alan Turing",
    "Grace Hopper",
    "Edsger Dijkstra",
    "Barbara Liskov",
    "Donald Knuth",
    "Frances Allen",
    "John McCarthy",
    "Karen Sparck Jones",
    "Claude Shannon",
)


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {
        "p50_ms": round(pick(0.5), 2),
        "p95_ms": round(pick(0.95), 2),
        "min_ms": round(ordered[0], 2),
        "n": len(ordered),
    }


def build_synthetic(store, source_store, size: int) -> list:
    """Fill the synthetic collection (once) and return its authors."""
    from llm_twin.application.rag.self_query import Author
    from llm_twin.application.sparse import Bm25SparseEncoder
    from llm_twin.domain.features import EMBEDDED_CHUNKS_COLLECTION
    from llm_twin.domain.vectors import VectorPoint

    # Names a reader could type, one author each: "Author3 Bench" and "Author4 Bench" are one
    # typo apart, so an author filter on them resolved to all ten and filtered nothing.
    authors = [
        Author(str(uuid.uuid5(uuid.NAMESPACE_DNS, f"author{i}")), name)
        for i, name in enumerate(SYNTHETIC_AUTHOR_NAMES)
    ]
    built = store.count(SYNTHETIC) >= size and store.count(
        SYNTHETIC, where={"author_full_name": authors[-1].full_name}
    )
    if built:
        return authors
    store.delete_collection(SYNTHETIC)
    source = list(source_store.scroll(EMBEDDED_CHUNKS_COLLECTION, with_vectors=True))
    store.ensure_collection(SYNTHETIC, len(source[0].vector), sparse=True)
    encoder = Bm25SparseEncoder()
    sparse = {
        p.id: encoder.encode_document(f"{p.payload.get('title')}\n\n{p.payload['content']}")
        for p in source
    }
    rng = random.Random(0)
    points = []
    for i in range(size):
        base = source[i % len(source)]
        vector = [x + rng.gauss(0, 0.01) for x in base.vector]
        norm = sum(x * x for x in vector) ** 0.5
        author = authors[i % len(authors)]
        payload = {**base.payload, "author_id": author.id, "author_full_name": author.full_name}
        payload["link"] = f"{payload['link']}#copy{i // len(source)}"
        points.append(
            VectorPoint(
                uuid.uuid5(uuid.NAMESPACE_URL, f"synthetic-{i}"),
                [x / norm for x in vector],
                payload,
                sparse[base.id],
            )
        )
    store.upsert(SYNTHETIC, points)
    return authors


def run_backend(backend: str, data_dir: Path, rounds: int) -> dict:
    os.environ["VECTOR_STORE_BACKEND"] = backend
    use_data_dir(data_dir)
    from bench.rag_common import index_sample_corpus
    from llm_twin.application.rag import ContextRetriever
    from llm_twin.infrastructure.db.mongo import open_warehouse
    from llm_twin.infrastructure.db.vector_store import open_vector_store
    from llm_twin.settings import get_settings

    settings = get_settings()
    questions = [q["question"] for q in load_questions()]
    results: dict[str, dict] = {}
    store = open_vector_store(settings)
    try:
        with open_warehouse(settings) as warehouse:
            index_sample_corpus(store, warehouse)
        retriever = ContextRetriever.from_settings(settings, store=store)
        started = time.perf_counter()
        authors = build_synthetic(store, store, 10_000)
        log(f"[{backend}] synthetic collection ready ({time.perf_counter() - started:.1f} s)")
        samples: dict[str, list[float]] = {
            "sample": [],
            "sample_author": [],
            "10k_author": [],
            "query_embedding": [],
        }
        synthetic = ContextRetriever.from_settings(
            settings, store=store, authors=authors, warm_up=False
        )
        synthetic.collection = SYNTHETIC
        synthetic.warm_up()  # as a service searching this collection would have
        for round_ in range(rounds):
            for i, question in enumerate(questions):
                for name, target, author in (
                    ("sample", retriever, None),
                    ("sample_author", retriever, ("Maxime", "Paul")[i % 2]),
                    ("10k_author", synthetic, authors[(i + round_) % len(authors)].full_name),
                ):
                    began = time.perf_counter()
                    hits = target.search(question, author=author)
                    samples[name].append((time.perf_counter() - began) * 1000)
                    if not hits:
                        raise RuntimeError(f"no hits for {question!r} in {name}")
                # The model's share of a search: embedding the question alone.
                began = time.perf_counter()
                retriever._embed_queries([question])
                samples["query_embedding"].append((time.perf_counter() - began) * 1000)
        for name, values in samples.items():
            results[name] = percentiles(values)
            log(f"[{backend}] {name:14s} {results[name]}")
    finally:
        store.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--backend", choices=["edge", "local", "both"], default="edge")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    backends = ["edge", "local"] if args.backend == "both" else [args.backend]
    report = {}
    for backend in backends:
        folder = (
            args.data_dir
            if backend == "edge"
            else args.data_dir.with_name(args.data_dir.name + "_local")
        )
        report[backend] = run_backend(backend, folder, args.rounds)
    report["load_average"] = [round(x, 2) for x in os.getloadavg()]
    log(f"load average: {report['load_average']}")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
