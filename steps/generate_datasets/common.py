"""Helpers shared by the generation steps: extracts from documents, generator set-up."""

from typing import Any

from llm_twin.application.dataset.extracts import ExtractConfig, split_documents
from llm_twin.application.dataset.instruct import sample_extracts
from llm_twin.application.dataset.samples import Extract, SourceDocument


def extracts_for(
    documents: list[dict[str, Any]],
    extracts: dict[str, Any] | None,
    max_extracts: int,
    seed: int,
) -> tuple[list[Extract], int]:
    """The extracts to generate from (at most ``max_extracts``, 0: all) and how many the
    documents held in total."""
    config = ExtractConfig(**(extracts or {}))
    every = split_documents([SourceDocument(**d) for d in documents], config)
    return sample_extracts(every, max_extracts, seed), len(every)
