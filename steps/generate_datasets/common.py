"""Helpers shared by the generation steps: extracts from documents, generator options."""

from collections import Counter
from collections.abc import Sequence
from typing import Any

from llm_twin.application.dataset.extracts import ExtractConfig, split_documents
from llm_twin.application.dataset.instruct import sample_extracts
from llm_twin.application.dataset.samples import Extract, SourceDocument
from pipelines.configs import ExtractSampling, InstructGeneration


def extracts_for(
    documents: list[dict[str, Any]], sampling: ExtractSampling
) -> tuple[list[Extract], int]:
    """The extracts to generate from (at most ``sampling.max_extracts``, 0: all, seeded) and how
    many the documents held in total.

    Args:
        documents: Output of ``query_cleaned_documents``.
        sampling: How documents are cut (``extracts``) and how many extracts are used.
    """
    config = ExtractConfig(**sampling.extracts)
    every = split_documents([SourceDocument(**d) for d in documents], config)
    return sample_extracts(every, sampling.max_extracts, sampling.seed), len(every)


def generator_options(generation: InstructGeneration) -> dict[str, Any]:
    """The generator's options; the structure generator gets the config's ``seed`` unless its
    options name one."""
    options = dict(generation.generator_options)
    if generation.generator == "structure":
        options.setdefault("seed", generation.seed)
    return options


def template_counts(rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """``template_<name>``: rows per template (user corrections count as ``feedback``)."""
    counts = Counter(str(row.get("template") or row.get("origin") or "unknown") for row in rows)
    return {f"template_{name}": count for name, count in sorted(counts.items())}
