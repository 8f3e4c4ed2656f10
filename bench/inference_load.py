"""``/rag`` retrieval-only latency under concurrent load (no LLM generation).

    python -m bench.inference_load [--connections 8 16 32] [--requests 200]

Starts the service on 127.0.0.1 over the indexed sample corpus (see bench/inference.py) and, for
each connection count, sends a fixed number of ``retrieval_only`` requests from that many
concurrent asyncio clients (an httpx load generator: wrk and locust are not installed here;
the generator shares the machine's CPUs with the service). Prints p50/p95/max latency, requests
per second and errors per level as one JSON object; stops by itself.
"""

import argparse
import asyncio
import itertools
import json
import time

import httpx

from bench.inference_common import (
    DEFAULT_DIR,
    percentile,
    prepare_corpus,
    start_local_service,
    stop_service,
)
from bench.rag_common import load_questions, log


async def level(url: str, questions: list[str], connections: int, total: int) -> dict:
    latencies: list[float] = []
    errors = 0
    feed = itertools.cycle(questions)
    remaining = iter(range(total))

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        for _ in remaining:
            started = time.perf_counter()
            try:
                response = await client.post(
                    "/rag", json={"query": next(feed), "retrieval_only": True}
                )
                ok = response.status_code == 200 and response.json()["sources"]
            except httpx.HTTPError:
                ok = False
            latencies.append((time.perf_counter() - started) * 1000)
            errors += 0 if ok else 1

    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(connections)))
        elapsed = time.perf_counter() - started
    return {
        "connections": connections,
        "requests": len(latencies),
        "errors": errors,
        "p50_ms": round(percentile(latencies, 0.5), 1),
        "p95_ms": round(percentile(latencies, 0.95), 1),
        "max_ms": round(max(latencies), 1),
        "requests_per_s": round(len(latencies) / elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connections", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()

    prepare_corpus(DEFAULT_DIR)
    service, url = start_local_service()
    questions = [q["question"] for q in load_questions()]
    try:
        asyncio.run(level(url, questions, 2, 10))  # warm-up
        results = []
        for connections in args.connections:
            result = asyncio.run(level(url, questions, connections, args.requests))
            log(str(result))
            results.append(result)
    finally:
        stop_service(service)
    print(json.dumps({"retrieval_only": results}))


if __name__ == "__main__":
    main()
