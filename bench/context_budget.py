"""What the prompt's context budget (``LLM_CONTEXT_CHARS``) costs and buys: prompt tokens, the
local model's generation time, and the RAG evaluation's grounding scores, per budget.

    python -m bench.context_budget [--data-dir DIR] [--budgets 3000,1800,1200] [--answers 12]

Runs the product's RAG evaluation (``llm_twin.application.rag.evaluation``: the service's own
answering path, greedy, offline faithfulness and relevance proxies unless a judge is configured)
on the labelled dev questions once per budget, over the index and served model of ``DATA_DIR``
(default: the project's ``data/``; run the quickstart first). The same questions are answered
for every budget. Prints one JSON object; a table goes to stderr.
"""

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

from bench.rag_common import DEV_QUESTIONS, log


def run_budget(budget: int, answers: int, max_tokens: int) -> dict:
    """The RAG evaluation's generation summary with ``budget`` characters of context."""
    from llm_twin.application.rag.evaluation.run import evaluate_rag
    from llm_twin.settings import get_settings

    settings = get_settings().updated(LLM_CONTEXT_CHARS=budget)
    result = evaluate_rag(
        settings,
        {
            "generated": False,
            "questions_file": str(DEV_QUESTIONS),
            "n_generation": answers,
            "max_tokens": max_tokens,
            "judge": "auto",
        },
    )
    examples = result.get("examples", [])
    generation = result.get("generation", {})

    def median(key: str) -> float | None:
        values = [row[key] for row in examples if row.get(key) is not None]
        return round(statistics.median(values), 3) if values else None

    return {
        "context_chars": budget,
        "answers": len(examples),
        "faithfulness": generation.get("faithfulness"),
        "answer_relevance": generation.get("answer_relevance"),
        "median_prompt_tokens": median("prompt_tokens"),
        "median_generation_ms": median("generation_ms"),
        "median_completion_tokens": median("completion_tokens"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--budgets", default="3000,1800,1200")
    parser.add_argument("--answers", type=int, default=12)
    parser.add_argument("--max-tokens", type=int, default=64)
    args = parser.parse_args()
    if args.data_dir is not None:
        os.environ["DATA_DIR"] = str(args.data_dir.resolve())
    from llm_twin.settings import apply_offline_defaults

    apply_offline_defaults()
    rows = []
    for budget in (int(value) for value in args.budgets.split(",")):
        log(f"context budget {budget} characters: answering {args.answers} dev questions")
        rows.append(run_budget(budget, args.answers, args.max_tokens))
    log(f"{'chars':>6} {'faithful':>9} {'relevance':>9} {'prompt tok':>10} {'gen ms':>8}")
    for row in rows:
        log(
            f"{row['context_chars']:>6} {row['faithfulness']!s:>9} "
            f"{row['answer_relevance']!s:>9} {row['median_prompt_tokens']!s:>10} "
            f"{row['median_generation_ms']!s:>8}"
        )
    json.dump({"budgets": rows}, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
