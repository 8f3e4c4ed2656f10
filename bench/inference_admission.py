"""Generation under overload: admission control sheds load at once and the server goes idle when
its clients leave (issue 18, finding 1).

    python -m bench.inference_admission [--clients 32] [--seconds 85] [--max-tokens 16]

Starts the service on 127.0.0.1 over the indexed sample corpus with the local base model (see
bench/inference.py), then ``--clients`` concurrent httpx clients each send ``/rag`` generation
requests (``max_tokens`` ``--max-tokens``) back to back for ``--seconds``; a client answered 429
waits ``Retry-After`` (capped at the time left) before the next request. When the time is up
every client closes its connection at once, including those mid-request, and the service
process's CPU time is sampled until it stays flat (idle).

Prints one JSON object: responses by status, p50/p95/max of accepted (200) requests, the slowest
429 (an "immediate" refusal takes well under a second), requests that were neither 200 nor 429,
and ``idle_after_s``: seconds from the clients stopping until the service used < 5 % of a core
over a 0.5 s window. Also a 4096-token request's status (refused by ``LLM_MAX_TOKENS_LIMIT``).
Bounded: it stops by itself after ``--seconds`` plus at most ``--idle-timeout``.
"""

import argparse
import asyncio
import contextlib
import itertools
import json
import time
from collections import Counter

import httpx
import psutil

from bench.inference_common import (
    DEFAULT_DIR,
    percentile,
    prepare_corpus,
    start_local_service,
    stop_service,
)
from bench.rag_common import load_questions, log


async def load(url: str, questions: list[str], clients: int, seconds: float, max_tokens: int):
    """Run the clients for ``seconds``; returns (statuses, accepted latencies, 429 latencies)."""
    statuses: Counter[str] = Counter()
    accepted: list[float] = []
    refused: list[float] = []
    feed = itertools.cycle(questions)
    stop_at = time.monotonic() + seconds

    async def client_loop(client: httpx.AsyncClient) -> None:
        while time.monotonic() < stop_at:
            started = time.perf_counter()
            body = {"query": next(feed), "max_tokens": max_tokens}
            try:
                response = await client.post("/rag", json=body)
            except httpx.HTTPError as error:
                statuses[type(error).__name__] += 1
                continue
            took = time.perf_counter() - started
            statuses[str(response.status_code)] += 1
            if response.status_code == 200:
                accepted.append(took * 1000)
            elif response.status_code == 429:
                refused.append(took * 1000)
                wait = float(response.headers.get("Retry-After", "1"))
                await asyncio.sleep(min(wait, max(0.0, stop_at - time.monotonic())))

    async def one_client() -> None:
        # One connection per client, closed when the time is up (mid-request or not).
        async with httpx.AsyncClient(base_url=url, timeout=300) as client:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(client_loop(client), timeout=seconds)

    await asyncio.gather(*(one_client() for _ in range(clients)))
    return statuses, accepted, refused


def seconds_until_idle(pid: int, timeout: float, window: float = 0.5) -> float | None:
    """Seconds until the process uses < 5 % of a core over ``window``; ``None`` if not idle
    within ``timeout``."""
    process = psutil.Process(pid)
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        before = sum(process.cpu_times()[:2])
        time.sleep(window)
        if sum(process.cpu_times()[:2]) - before < 0.05 * window:
            return round(time.monotonic() - started - window, 1)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=85.0)
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--idle-timeout", type=float, default=120.0)
    args = parser.parse_args()

    prepare_corpus(DEFAULT_DIR)
    service, url = start_local_service(LLM_THREADS="1")
    questions = [q["question"] for q in load_questions()]
    try:
        too_long = httpx.post(f"{url}/rag", json={"query": "GPTQ", "max_tokens": 4096}, timeout=60)
        log(f"max_tokens 4096 -> {too_long.status_code}")
        statuses, accepted, refused = asyncio.run(
            load(url, questions, args.clients, args.seconds, args.max_tokens)
        )
        idle_after = seconds_until_idle(service.pid, args.idle_timeout)
    finally:
        stop_service(service)
    other = {status: n for status, n in statuses.items() if status not in ("200", "429")}
    result = {
        "clients": args.clients,
        "seconds": args.seconds,
        "max_tokens": args.max_tokens,
        "statuses": dict(statuses),
        "other_than_200_or_429": other,
        "accepted_p50_ms": round(percentile(accepted, 0.5), 1) if accepted else None,
        "accepted_p95_ms": round(percentile(accepted, 0.95), 1) if accepted else None,
        "accepted_max_ms": round(max(accepted), 1) if accepted else None,
        "slowest_429_ms": round(max(refused), 1) if refused else None,
        "idle_after_s": idle_after,
        "max_tokens_4096_status": too_long.status_code,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
