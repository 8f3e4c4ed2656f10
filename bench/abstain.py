"""Precision and recall of abstaining, for a sweep of ``RAG_ABSTAIN_THRESHOLD`` values.

    python -m bench.abstain [--data-dir DIR] [--k 5] [--step 0.025]

Builds (once, then reuses) the sample-corpus index in DIR like ``bench.rag_quality``, then
retrieves for the dev questions (``bench/rag_dev_questions.jsonl``: the author wrote about them,
the twin should answer) and the off-topic questions (``bench/abstain_offtopic_questions.jsonl``:
it should abstain) with the service's retriever, and reads each retrieval's relevance the way the
service does (the best passage's dense similarity). Abstaining is the positive class:
precision = abstentions that were off-topic / all abstentions, recall = off-topic questions
abstained on / all off-topic questions. Prints the sweep on stderr (the configured threshold
and the best-F1 threshold marked) and one JSON object on stdout.
"""

import argparse
import json
import time
from pathlib import Path

from bench.rag_common import DEFAULT_DIR, DEV_QUESTIONS, load_questions, log, use_data_dir

OFF_TOPIC = Path(__file__).resolve().parent / "abstain_offtopic_questions.jsonl"


def rates(answerable: list[float], off_topic: list[float], threshold: float) -> dict:
    """Abstaining's confusion counts, precision, recall and F1 at ``threshold``.

    Args:
        answerable: Relevance of each answerable question.
        off_topic: Relevance of each off-topic question.
        threshold: Abstain below this.
    """
    true_pos = sum(score < threshold for score in off_topic)
    false_pos = sum(score < threshold for score in answerable)
    false_neg = len(off_topic) - true_pos
    precision = true_pos / (true_pos + false_pos) if true_pos + false_pos else 1.0
    recall = true_pos / len(off_topic) if off_topic else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "threshold": round(threshold, 4),
        "abstained_off_topic": true_pos,
        "abstained_answerable": false_pos,
        "answered_off_topic": false_neg,
        "precision": round(precision, 3),
        "recall": round(recall, 3),
        "f1": round(f1, 3),
    }


def relevances(retriever, questions: list[dict], k: int) -> list[float]:
    """The relevance of the retrieval of each question (0 when nothing has a dense score)."""
    from llm_twin.application.inference.abstention import relevance

    scores = []
    for item in questions:
        chunks = retriever.search(item["question"], k=k, author=item.get("author"))
        score = relevance(chunks)
        scores.append(score if score is not None else 0.0)
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--questions", type=Path, default=DEV_QUESTIONS)
    parser.add_argument("--off-topic", type=Path, default=OFF_TOPIC)
    parser.add_argument("--k", type=int, default=None, help="chunks per question (RAG_TOP_K)")
    parser.add_argument("--step", type=float, default=0.025, help="threshold sweep step")
    args = parser.parse_args()

    use_data_dir(args.data_dir)
    from bench.rag_common import index_sample_corpus
    from llm_twin.application.rag import ContextRetriever
    from llm_twin.infrastructure.db.mongo import open_warehouse
    from llm_twin.infrastructure.db.vector_store import open_vector_store
    from llm_twin.settings import get_settings

    settings = get_settings()
    store = open_vector_store(settings)
    try:
        with open_warehouse(settings) as warehouse:
            started = time.perf_counter()
            counts = index_sample_corpus(store, warehouse)
            log(f"index: {counts} ({time.perf_counter() - started:.1f} s)")
        retriever = ContextRetriever.from_settings(settings, store=store)
        k = args.k or settings.rag.top_k
        answerable = relevances(retriever, load_questions(args.questions), k)
        off_topic = relevances(retriever, load_questions(args.off_topic), k)
    finally:
        store.close()
    steps = round(0.8 / args.step)
    sweep = [rates(answerable, off_topic, n * args.step) for n in range(1, steps + 1)]
    best = max(sweep, key=lambda row: (row["f1"], -row["threshold"]))
    configured = rates(answerable, off_topic, settings.rag.abstain_threshold)
    log(
        f"relevance: answerable min {min(answerable):.3f} median "
        f"{sorted(answerable)[len(answerable) // 2]:.3f}; off-topic max {max(off_topic):.3f} "
        f"median {sorted(off_topic)[len(off_topic) // 2]:.3f}"
    )
    log("threshold  precision  recall  f1     abstained(off-topic/answerable)")
    for row in sweep:
        mark = " <- best F1" if row is best else ""
        log(
            f"{row['threshold']:9.3f}  {row['precision']:9.3f}  {row['recall']:6.3f}  "
            f"{row['f1']:.3f}  {row['abstained_off_topic']}/{len(off_topic)} "
            f"{row['abstained_answerable']}/{len(answerable)}{mark}"
        )
    log(f"configured RAG_ABSTAIN_THRESHOLD={settings.rag.abstain_threshold}: {configured}")
    summary = {
        "k": k,
        "answerable": len(answerable),
        "off_topic": len(off_topic),
        "configured": configured,
        "best_f1": best,
        "relevance": {
            "answerable": [round(score, 4) for score in answerable],
            "off_topic": [round(score, 4) for score in off_topic],
        },
        "sweep": sweep,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
