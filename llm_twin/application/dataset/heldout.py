"""Which of the author's documents training may see, and which are held out for evaluation.

The instruct dataset's test split is the source of truth: the split is by document
(:func:`~llm_twin.application.dataset.split.split_documents`), so its ``document_id`` values name
whole documents that no training stage (continued pretraining, SFT, DPO) may read, and whose full
texts the evaluation scores (held-out-document perplexity). Every stage and the evaluation call
these two functions so they can never disagree.
"""

from collections.abc import Iterable
from typing import TYPE_CHECKING

from llm_twin.application.dataset.samples import SourceDocument

if TYPE_CHECKING:
    from datasets import DatasetDict


def held_out_document_ids(instruct: "DatasetDict") -> set[str]:
    """The ids of the documents in the instruct dataset's test split.

    Args:
        instruct: A saved instruct dataset (``train`` and ``test`` splits with ``document_id``).
    """
    if "test" not in instruct or "document_id" not in instruct["test"].column_names:
        return set()
    return {str(value) for value in instruct["test"]["document_id"] if value}


def partition_documents(
    documents: Iterable[SourceDocument], held_out_ids: set[str]
) -> tuple[list[SourceDocument], list[SourceDocument]]:
    """Split cleaned documents into ``(trainable, held_out)``, keeping their order.

    Args:
        documents: Cleaned documents (e.g. from
            :func:`~llm_twin.application.dataset.sources.read_cleaned_documents`).
        held_out_ids: From :func:`held_out_document_ids`.
    """
    trainable: list[SourceDocument] = []
    held_out: list[SourceDocument] = []
    for document in documents:
        (held_out if document.document_id in held_out_ids else trainable).append(document)
    return trainable, held_out
