"""Preference step: extracts → (prompt, chosen = author, rejected = generic LLM answer)."""

import time
from typing import Annotated, Any

from zenml import step

from pipelines.configs import PreferenceGeneration
from steps.generate_datasets.common import extracts_for
from steps.metadata import record_counts


@step
def generate_preference_samples(
    documents: list[dict[str, Any]], generation: PreferenceGeneration
) -> Annotated[dict[str, Any], "preference_samples"]:
    """One preference row per extract of the documents.

    Args:
        documents: The cleaned documents (``query_cleaned_documents``).
        generation: The extracts (``max_extracts`` bounds the LLM time), the prompt writer
            (``instruction_generator``), the generic-answer writer (``rejected_generator``),
            the ``ranking`` (``author``, or ``judge``: an OpenAI-compatible judge picks chosen)
            and ``max_similarity`` (pairs whose chosen and rejected overlap more, in word
            trigrams, are dropped). Its fields are this cached step's parameters.

    Returns:
        ``{"rows", "generators", "counts"}``.
    """
    from llm_twin.application.dataset.filters import FilterReport
    from llm_twin.application.dataset.generation import build_generator
    from llm_twin.application.dataset.preference import preference_rows

    started = time.perf_counter()
    chosen, total = extracts_for(documents, generation)
    instructions = build_generator(
        generation.instruction_generator, generation.instruction_generator_options
    )
    answers = build_generator(generation.rejected_generator, generation.rejected_generator_options)
    judge = None
    if generation.ranking == "judge":
        judge = build_generator("openai", generation.judge_options)
    report = FilterReport()
    try:
        rows = preference_rows(
            chosen,
            instructions,
            answers,
            report,
            ranking=generation.ranking,
            judge=judge,
            max_similarity=generation.max_similarity,
        )
    finally:
        for model in (instructions, answers, judge):
            if model is not None:
                model.close()
    counts: dict[str, Any] = {
        "extracts_total": total,
        "extracts_used": len(chosen),
        "samples_generated": len(rows),
        "judge_swapped": sum(bool(row.get("judge_swapped")) for row in rows),
        **report.counts(),
        **instructions.usage.counts("llm_instruction"),
        **answers.usage.counts("llm_rejected"),
    }
    if judge is not None:
        counts.update(judge.usage.counts("llm_judge"))
    names = [instructions.name, answers.name] + ([judge.name] if judge else [])
    record_counts(
        {"generators": names, "seconds": round(time.perf_counter() - started, 2)}, **counts
    )
    return {"rows": rows, "generators": names, "counts": counts}
