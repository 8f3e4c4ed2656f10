"""Retrieval quality per stage on the dev question set over the 76-article sample corpus.

    python -m bench.rag_quality [--data-dir DIR] [--k 5] [--questions FILE] [--show-misses]

Builds (once, then reuses) an index of the shared sample corpus in DIR with the feature
pipeline's code, then runs every question through ``ContextRetriever`` with the stages switched
on one after another: dense only, sparse only, dense+sparse fused (RRF), + the offline reranker,
+ dedup. Scores the ranked unique links of the top-k chunks: recall@1/3/5 and MRR, and counts
``repeats@k``: passages per question in the top-k that repeat another one (the same text under
two links). Prints a table on stderr and one JSON object on stdout.
"""

import argparse
import json
import time
from pathlib import Path

from bench.rag_common import DEFAULT_DIR, DEV_QUESTIONS, load_questions, log, score, use_data_dir


def stages(settings) -> dict:
    """Stage name -> (options overrides, reranker name)."""
    return {
        "dense": ({"sparse_weight": 0.0, "dedup_threshold": 0.0}, "none"),
        "sparse": ({"dense_weight": 0.0, "dedup_threshold": 0.0}, "none"),
        "fusion": ({"dedup_threshold": 0.0}, "none"),
        "+rerank": ({"dedup_threshold": 0.0}, settings.rag.reranker),
        "+dedup": ({}, settings.rag.reranker),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--questions", type=Path, default=DEV_QUESTIONS)
    parser.add_argument("--k", type=int, default=None, help="chunks per question (RAG_TOP_K)")
    parser.add_argument("--show-misses", action="store_true")
    args = parser.parse_args()

    use_data_dir(args.data_dir)
    import dataclasses

    from bench.rag_common import index_sample_corpus
    from llm_twin.application.rag import ContextRetriever, RetrievalOptions
    from llm_twin.application.rag.dedup import deduplicate
    from llm_twin.application.rag.rerankers import build_reranker
    from llm_twin.infrastructure.db.mongo import open_warehouse
    from llm_twin.infrastructure.db.vector_store import open_vector_store
    from llm_twin.settings import get_settings

    settings = get_settings()
    dedup_threshold = settings.rag.dedup_threshold or 0.8
    questions = load_questions(args.questions)
    store = open_vector_store(settings)
    try:
        with open_warehouse(settings) as warehouse:
            started = time.perf_counter()
            counts = index_sample_corpus(store, warehouse)
            log(f"index: {counts} ({time.perf_counter() - started:.1f} s)")
        base = ContextRetriever.from_settings(settings, store=store)
        k = args.k or settings.rag.top_k
        results = {}
        for name, (overrides, reranker) in stages(settings).items():
            defaults = RetrievalOptions.from_settings(settings)
            base.options = dataclasses.replace(defaults, **overrides)
            base.reranker = build_reranker(
                reranker,
                settings.rag.reranker_model,
                doc_weight=settings.rag.evidence_doc_weight,
                title_weight=settings.rag.evidence_title_weight,
            )
            ranked, latencies, repeats = [], [], 0
            for item in questions:
                started = time.perf_counter()
                chunks = base.search(item["question"], k=k, author=item.get("author"))
                latencies.append((time.perf_counter() - started) * 1000)
                ranked.append([c.link for c in chunks])
                # Passages in the top-k that dedup would drop: repeats wasting context space.
                repeats += len(chunks) - len(deduplicate(chunks, dedup_threshold))
            metrics = score(ranked, [q["links"] for q in questions])
            metrics["repeats@k"] = round(repeats / len(questions), 2)
            latencies.sort()
            metrics["p50_ms"] = round(latencies[len(latencies) // 2], 1)
            results[name] = metrics
            log(f"{name:8s} " + "  ".join(f"{m}={v}" for m, v in metrics.items()))
            if args.show_misses:
                for item, links in zip(questions, ranked, strict=True):
                    if not links or links[0] not in item["links"]:
                        log(f"   miss: {item['question'][:70]!r} -> {links[:3]}")
    finally:
        store.close()
    print(json.dumps({"k": k, "questions": len(questions), "stages": results}))


if __name__ == "__main__":
    main()
