"""Response-cache hit rate and saving on ``/rag`` with the local model.

    python -m bench.inference_cache [--questions 5] [--repeats 2] [--max-tokens 16]

Starts the service with ``API_CACHE_TTL=600`` over the indexed sample corpus (see
bench/inference.py), asks each question ``--repeats`` times (round-robin, so repeats are not
back to back), and prints the service's cache counters and the client-side latency of misses
and hits as one JSON object; stops by itself.
"""

import argparse
import json
import statistics
import time

import httpx

from bench.inference_common import (
    DEFAULT_DIR,
    prepare_corpus,
    start_local_service,
    stop_service,
)
from bench.rag_common import load_questions, log


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=16)
    args = parser.parse_args()

    prepare_corpus(DEFAULT_DIR)
    service, url = start_local_service(LLM_TEMPERATURE="0", API_CACHE_TTL="600")
    questions = [q["question"] for q in load_questions()][: args.questions]
    latencies: dict[bool, list[float]] = {True: [], False: []}
    try:
        for _ in range(args.repeats):
            for question in questions:
                started = time.perf_counter()
                response = httpx.post(
                    f"{url}/rag",
                    json={"query": question, "max_tokens": args.max_tokens},
                    timeout=300,
                )
                response.raise_for_status()
                elapsed = (time.perf_counter() - started) * 1000
                latencies[response.json()["cached"]].append(elapsed)
                log(f"cached={response.json()['cached']} {elapsed:.0f} ms {question[:50]}")
        stats = httpx.get(f"{url}/stats", timeout=10).json()["cache"]
    finally:
        stop_service(service)
    print(
        json.dumps(
            {
                "requests": args.questions * args.repeats,
                "cache": stats,
                "miss_ms_mean": round(statistics.mean(latencies[False]), 1),
                "hit_ms_mean": round(statistics.mean(latencies[True]), 1)
                if latencies[True]
                else None,
            }
        )
    )


if __name__ == "__main__":
    main()
