"""Time to first token and tokens/s of ``/rag`` with the local SmolLM2-135M backend.

    python -m bench.inference [--questions 8] [--max-tokens 64] [--context-chars 3000]

Indexes the shared sample corpus under data/bench/inference (once), converts the base model
(once), starts the service on 127.0.0.1 and asks the dev questions one at a time with
``stream: true``. TTFT is measured by the client: request sent -> first token event (retrieval,
prompt prefill and the first word included). Prints one JSON object; stops by itself.
"""

import argparse
import json
import statistics
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


def ask(url: str, question: str, max_tokens: int) -> dict:
    started = time.perf_counter()
    first = None
    done = None
    with httpx.stream(
        "POST",
        f"{url}/rag",
        json={"query": question, "stream": True, "max_tokens": max_tokens},
        timeout=300,
    ) as response:
        response.raise_for_status()
        event = ""
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                if event == "token" and first is None:
                    first = time.perf_counter() - started
                elif event == "done":
                    done = json.loads(line[6:])
                elif event == "error":
                    raise RuntimeError(line)
    total = time.perf_counter() - started
    tokens = done["usage"]["completion_tokens"]
    decode_s = max(total - (first or total), 1e-6)
    return {
        "ttft_s": round(first or total, 3),
        "total_s": round(total, 3),
        "completion_tokens": tokens,
        "prompt_tokens": done["usage"]["prompt_tokens"],
        "decode_tokens_per_s": round(max(tokens - 1, 0) / decode_s, 2),
        "retrieval_ms": done["latency_ms"]["retrieval"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--context-chars", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=0, help="LLM_THREADS (0: default)")
    args = parser.parse_args()

    log(f"indexing the sample corpus under {DEFAULT_DIR} (skipped when done)")
    prepare_corpus(DEFAULT_DIR)
    service, url = start_local_service(
        LLM_TEMPERATURE="0",
        LLM_CONTEXT_CHARS=str(args.context_chars),
        LLM_THREADS=str(args.threads),
        API_CACHE_TTL="0",
    )
    try:
        questions = [q["question"] for q in load_questions()][: args.questions]
        ask(url, "warm-up question about fine-tuning", 8)
        runs = []
        for question in questions:
            run = ask(url, question, args.max_tokens)
            log(f"{run}  {question[:60]}")
            runs.append(run)
    finally:
        stop_service(service)
    ttft = [run["ttft_s"] for run in runs]
    speed = [run["decode_tokens_per_s"] for run in runs]
    print(
        json.dumps(
            {
                "questions": len(runs),
                "max_tokens": args.max_tokens,
                "context_chars": args.context_chars,
                "llm_threads": args.threads,
                "ttft_s": {
                    "p50": percentile(ttft, 0.5),
                    "p95": percentile(ttft, 0.95),
                    "max": max(ttft),
                },
                "decode_tokens_per_s": {"mean": round(statistics.mean(speed), 2)},
                "prompt_tokens_mean": round(statistics.mean(r["prompt_tokens"] for r in runs)),
                "retrieval_ms_p50": percentile([r["retrieval_ms"] for r in runs], 0.5),
                "total_s_p50": percentile([r["total_s"] for r in runs], 0.5),
            }
        )
    )


if __name__ == "__main__":
    main()
