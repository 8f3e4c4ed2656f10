"""Instruct step: extracts → instruction → answer rows with the configured generator."""

import time
from typing import Annotated, Any

from zenml import step

from pipelines.configs import InstructGeneration
from steps.generate_datasets.common import extracts_for, generator_options, template_counts
from steps.metadata import record_counts


@step
def generate_instruct_samples(
    documents: list[dict[str, Any]], generation: InstructGeneration
) -> Annotated[dict[str, Any], "instruct_samples"]:
    """Cut documents into extracts and generate one instruct row per extract.

    Args:
        documents: Output of ``query_cleaned_documents``.
        generation: The extracts, the ``generator`` (``structure``, ``keyphrase``, ``local``,
            ``openai``) with its options, and the ``mode`` (``backtranslation``: answer = the
            author's extract; ``answer``: the LLM answers). Its fields are this cached step's
            parameters.

    Returns:
        ``{"rows", "generators", "counts"}`` (counts include ``template_<name>`` per template),
        plus ``grounding`` (how grounded samples get their context) for the structure
        generator.
    """
    from llm_twin.application.dataset.generation import build_generator
    from llm_twin.application.dataset.instruct import instruct_rows

    started = time.perf_counter()
    chosen, total = extracts_for(documents, generation)
    model = build_generator(generation.generator, generator_options(generation))
    try:
        rows = instruct_rows(chosen, model, generation.mode)
    finally:
        model.close()
    counts = {
        "extracts_total": total,
        "extracts_used": len(chosen),
        "samples_generated": len(rows),
        "dropped_generation_failed": len(chosen) - len(rows),
        **template_counts(rows),
        **model.usage.counts("llm"),
    }
    seconds = round(time.perf_counter() - started, 2)
    record_counts({"generator": model.name, "mode": generation.mode, "seconds": seconds}, **counts)
    samples: dict[str, Any] = {"rows": rows, "generators": [model.name], "counts": counts}
    grounding = getattr(model, "grounding", None)
    if grounding:
        samples["grounding"] = dict(grounding)
    return samples
