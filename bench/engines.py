"""Engines side by side in one run: the twin on transformers vs CTranslate2 int8, the query
encoder on sentence-transformers vs CTranslate2 int8.

    python -m bench.engines [--model-dir DIR] [--runs 3] [--max-tokens 64] [--threads 2]
                            [--skip llm|encoder]

- **LLM**: a ~700-token RAG prompt (the twin's system prompt, numbered passages of the sample
  corpus, a question) streamed greedily: TTFT, total time for ``--max-tokens`` tokens and decode
  tokens/s (tokens after the first over the time after it), median of ``--runs`` runs after a
  warm-up. ``DIR`` defaults to the offline base model (prepared, with its CT2 export, if
  missing: ``poe prepare-base-model``).
- **Query encoder**: p50/p95 of embedding one dev-set question (1 thread, as the retriever).
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
    from llm_twin.infrastructure.llm.exports import convert_to_ct2
    from llm_twin.infrastructure.llm.factory import engine_backend

    convert_to_ct2(model_dir)
    results = {}
    for engine in ("transformers", "ct2"):
        backend = engine_backend(model_dir, engine=engine, threads=threads, timeout=600)
        backend.load()
        messages = rag_prompt(backend.tokenizer)
        backend.warm_up()
        measured = [time_stream(backend, messages, max_tokens) for _ in range(runs)]
        results[engine] = {
            name: round(statistics.median(run[name] for run in measured), 3) for name in measured[0]
        } | {"load": load()}
        backend.close()
    return results


def bench_encoders(threads: int, chunks: int) -> dict[str, dict]:
    from llm_twin.application.embeddings import get_embedder

    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines()]
    articles = json.loads(CORPUS.read_text())
    words = " ".join(article["content"]["Content"] for article in articles).split()
    texts = [" ".join(words[i : i + 200]) for i in range(0, 200 * chunks, 200)]
    results = {}
    for engine in ("sentence-transformers", "ct2"):
        if engine == "sentence-transformers":
            import torch

            torch.set_num_threads(1)  # the fastest setting for one query (see FACTS)
        query = get_embedder(engine=engine, threads=1)
        query.embed_query("warm up")
        latencies = []
        for question in questions:
            started = time.perf_counter()
            query.embed_query(question)
            latencies.append((time.perf_counter() - started) * 1000)
        row = {
            "query_ms_p50": round(percentile(latencies, 0.5), 2),
            "query_ms_p95": round(percentile(latencies, 0.95), 2),
            "query_load": load(),
        }
        if engine == "sentence-transformers":
            torch.set_num_threads(threads or os.cpu_count() or 1)
        batch = get_embedder(engine=engine, threads=threads)
        batch.embed(texts[:4])
        started = time.perf_counter()
        batch.embed(texts)
        row |= {
            "chunks_per_s": round(len(texts) / (time.perf_counter() - started), 1),
            "batch_load": load(),
        }
        results[engine] = row
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
