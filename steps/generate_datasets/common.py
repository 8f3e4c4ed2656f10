"""Helpers shared by the generation steps: extracts from documents."""

from typing import Any

from llm_twin.application.dataset.extracts import ExtractConfig, split_documents
from llm_twin.application.dataset.instruct import sample_extracts
from llm_twin.application.dataset.samples import Extract, SourceDocument
from pipelines.configs import ExtractSampling


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
