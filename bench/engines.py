"""Engines side by side in one run: the twin on transformers vs CTranslate2 int8, the query
encoder on sentence-transformers vs CTranslate2 int8.

    python -m bench.engines [--model-dir DIR] [--runs 3] [--max-tokens 64] [--threads 2]
                            [--skip llm|encoder]

- **LLM**: a ~700-token RAG prompt (the twin's system prompt, numbered passages of the sample
  corpus, a question) streamed greedily: TTFT, total time for ``--max-tokens`` tokens and decode
  tokens/s (tokens after the first over the time after it), median of ``--runs`` runs after a
  warm-up, the two engines' runs alternated. ``DIR`` defaults to the offline base model
  (prepared, with its CT2 export, if missing: ``poe prepare-base-model``).
- **Query encoder**: p50/p95 of embedding one dev-set question (1 thread, as the retriever in
  the service), three passes over the dev questions, the two encoders taking turns.
- **Batch embedding**: chunks/s embedding 256-token chunks of the sample corpus (the feature
  pipeline's dense stage; ``poe bench-feature-engineering`` times the whole pipeline).

Every figure carries the load average at the time (a busy machine slows all of them). Prints a
table on stderr and one JSON object on stdout.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "bench" / "rag_dev_questions.jsonl"
CORPUS = ROOT / "llm_twin" / "sample_data" / "warehouse" / "ArticleDocument.json"
#: Seconds of idle before each timed generation and batch (see ``bench_llm``).
IDLE_BEFORE_RUN_S = 0.5
#: Passes of each query encoder over the dev questions (see ``bench_encoders``).
QUERY_ROUNDS = 3


def load() -> float:
    """The 1-minute load average."""
    return round(os.getloadavg()[0], 2)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def rag_prompt(tokenizer, target_tokens: int = 700) -> list[dict[str, str]]:
    """The twin's messages with numbered passages of the sample corpus, ~``target_tokens``."""
    from llm_twin.domain.prompts import build_messages, render_prompt

    articles = json.loads(CORPUS.read_text())
    words = " ".join(article["content"]["Content"] for article in articles[:3]).split()
    passages = [" ".join(words[start : start + 60]) for start in range(0, len(words), 60)]
    question = "How do I fine-tune a small model cheaply?"
    for count in range(1, len(passages)):
        context = "\n\n".join(f"[{i + 1}] {text}" for i, text in enumerate(passages[:count]))
        messages = build_messages(question, context)
        if len(tokenizer(render_prompt(tokenizer, messages))["input_ids"]) >= target_tokens:
            return messages
    return build_messages(question, "\n\n".join(passages))


def time_stream(backend, messages, max_tokens: int) -> dict[str, float]:
    from llm_twin.infrastructure.llm import GenerationParams

    params = GenerationParams(max_new_tokens=max_tokens, temperature=0.0)
    started = time.perf_counter()
    stream = backend.stream(messages, params)
    first = None
    for _ in stream:
        if first is None:
            first = time.perf_counter() - started
    total = time.perf_counter() - started
    first = first or total
    return {
        "ttft_s": first,
        "total_s": total,
        "decode_tok_s": (stream.completion_tokens - 1) / max(total - first, 1e-6),
        "prompt_tokens": stream.prompt_tokens,
        "completion_tokens": stream.completion_tokens,
    }


def bench_llm(model_dir: Path, runs: int, max_tokens: int, threads: int) -> dict[str, dict]:
    """Both engines loaded side by side, their runs alternated (transformers, ct2, transformers,
    ...): this machine's speed drifts over minutes, and alternating gives both the same share of
    fast and slow stretches. A pause before each run lets the other engine's worker threads go
    idle (torch's OpenMP threads spin for a while after a call)."""
    from llm_twin.infrastructure.llm.exports import convert_to_ct2
    from llm_twin.infrastructure.llm.factory import engine_backend

    convert_to_ct2(model_dir)
    engines = ("transformers", "ct2")
    backends = {
        engine: engine_backend(model_dir, engine=engine, threads=threads, timeout=600)
        for engine in engines
    }
    measured: dict[str, list[dict[str, float]]] = {engine: [] for engine in engines}
    try:
        for backend in backends.values():
            backend.load()
            backend.warm_up()
        messages = rag_prompt(backends["transformers"].tokenizer)
        for _ in range(runs):
            for engine in engines:
                time.sleep(IDLE_BEFORE_RUN_S)
                measured[engine].append(time_stream(backends[engine], messages, max_tokens))
    finally:
        for backend in backends.values():
            backend.close()
    return {
        engine: {name: round(statistics.median(run[name] for run in rows), 3) for name in rows[0]}
        | {"load": load()}
        for engine, rows in measured.items()
    }


def bench_encoders(threads: int, chunks: int) -> dict[str, dict]:
    """One-query latency, the two encoders taking turns over the whole question set (as the LLM
    runs alternate, see ``bench_llm``; turns of one question would measure each encoder with the
    other's weights in the CPU caches), then batch throughput, one engine after the other."""
    import torch

    from llm_twin.application.embeddings import get_embedder

    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines()]
    articles = json.loads(CORPUS.read_text())
    words = " ".join(article["content"]["Content"] for article in articles).split()
    texts = [" ".join(words[i : i + 200]) for i in range(0, 200 * chunks, 200)]
    engines = ("sentence-transformers", "ct2")
    torch.set_num_threads(1)  # the fastest setting for one query (see FACTS)
    queries = {engine: get_embedder(engine=engine, threads=1) for engine in engines}
    latencies: dict[str, list[float]] = {engine: [] for engine in engines}
    for _ in range(QUERY_ROUNDS):
        for engine, query in queries.items():
            query.embed_query("warm up")
            for question in questions:
                started = time.perf_counter()
                query.embed_query(question)
                latencies[engine].append((time.perf_counter() - started) * 1000)
    results = {
        engine: {
            "query_ms_p50": round(percentile(values, 0.5), 2),
            "query_ms_p95": round(percentile(values, 0.95), 2),
            "query_load": load(),
        }
        for engine, values in latencies.items()
    }
    torch.set_num_threads(threads or os.cpu_count() or 1)
    for engine in engines:
        batch = get_embedder(engine=engine, threads=threads)
        batch.embed(texts[:4])
        time.sleep(IDLE_BEFORE_RUN_S)
        started = time.perf_counter()
        batch.embed(texts)
        results[engine] |= {
            "chunks_per_s": round(len(texts) / (time.perf_counter() - started), 1),
            "batch_load": load(),
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: one per core)")
    parser.add_argument("--chunks", type=int, default=64, help="chunks for batch embedding")
    parser.add_argument("--skip", choices=["llm", "encoder"], default=None)
    args = parser.parse_args()

    from llm_twin.settings import apply_offline_defaults

    apply_offline_defaults()
    report: dict[str, object] = {"cpus": os.cpu_count(), "load_start": load()}
    if args.skip != "encoder":
        report["encoders"] = bench_encoders(args.threads, args.chunks)
    if args.skip != "llm":
        model_dir = args.model_dir
        if model_dir is None:
            from llm_twin.model.base_model import prepare_base_model

            model_dir = prepare_base_model()
        report["llm"] = bench_llm(model_dir, args.runs, args.max_tokens, args.threads)
    for section in ("encoders", "llm"):
        for engine, row in dict(report.get(section) or {}).items():
            print(f"{section:9} {engine:22} {json.dumps(row)}", file=sys.stderr)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
