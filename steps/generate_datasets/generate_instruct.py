"""Instruct step: extracts → instruction → answer rows with the configured generator."""

import time
from typing import Annotated, Any

from zenml import step

from steps.generate_datasets.common import extracts_for
from steps.metadata import record_counts


@step
def generate_instruct_samples(
    documents: list[dict[str, Any]],
    extracts: dict[str, Any] | None = None,
    max_extracts: int = 0,
    generator: str = "keyphrase",
    generator_options: dict[str, Any] | None = None,
    mode: str = "backtranslation",
    seed: int = 42,
) -> Annotated[dict[str, Any], "instruct_samples"]:
    """Cut documents into extracts and generate one instruct row per extract.

    Args:
        documents: Output of ``query_cleaned_documents``.
        extracts: ``{min_chars, max_chars, max_per_document}`` (see ``ExtractConfig``).
        max_extracts: Use at most this many extracts (seeded sample; 0: all).
        generator: ``keyphrase`` (no LLM), ``local`` (SmolLM2) or ``openai``.
        generator_options: Keyword arguments of the generator (batch_size, concurrency…).
        mode: ``backtranslation`` (answer = the author's extract) or ``answer`` (LLM answer).
        seed: Seed of the extract sample.

    Returns:
        ``{"rows", "generators", "counts"}``.
    """
    from llm_twin.application.dataset.generation import build_generator
    from llm_twin.application.dataset.instruct import instruct_rows

    started = time.perf_counter()
    chosen, total = extracts_for(documents, extracts, max_extracts, seed)
    model = build_generator(generator, generator_options)
    try:
        rows = instruct_rows(chosen, model, mode)
    finally:
        model.close()
    counts = {
        "extracts_total": total,
        "extracts_used": len(chosen),
        "samples_generated": len(rows),
        "dropped_generation_failed": len(chosen) - len(rows),
        **model.usage.counts("llm"),
    }
    record_counts(
        {"generator": model.name, "mode": mode, "seconds": round(time.perf_counter() - started, 2)},
        **counts,
    )
    return {"rows": rows, "generators": [model.name], "counts": counts}
