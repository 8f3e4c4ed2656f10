"""The held-out documents' texts that the held-out-document perplexity scores.

The documents are those of the instruct dataset's test split
(:func:`~llm_twin.application.dataset.heldout.held_out_document_ids`): whole documents no training
stage has seen. Their cleaned plain text comes from the feature store. Scoring is capped at
``max_tokens`` per model (CPU time): when the documents hold more, every document contributes an
equal share of the budget (its opening; short documents give what they do not need to the
others), so each held-out document is represented. The texts are cut once, with the base model's
tokenizer, so every compared model scores exactly the same text.
"""

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from llm_twin.model.evaluation.config import digest

if TYPE_CHECKING:
    from datasets import DatasetDict
    from transformers import PreTrainedTokenizerBase

    from llm_twin.settings import Settings


@dataclasses.dataclass(frozen=True)
class HeldOutTexts:
    """What the held-out-document perplexity scores.

    Attributes:
        texts: One text per held-out document (whole, or its opening when capped).
        documents: Held-out documents found in the feature store.
        tokens_total: Their tokens in full (base tokenizer).
        tokens_selected: Tokens of ``texts`` (base tokenizer).
        reason: Why there is nothing to score (None when ``texts`` is not empty).
    """

    texts: list[str]
    documents: int = 0
    tokens_total: int = 0
    tokens_selected: int = 0
    reason: str | None = None

    @property
    def digest(self) -> str:
        """A hash of the scored texts (what makes two versions' values comparable)."""
        return digest(self.texts)

    def describe(self) -> dict[str, object]:
        """The details recorded with the evaluation."""
        if self.reason:
            return {"skipped": self.reason}
        return {
            "documents": self.documents,
            "tokens_total": self.tokens_total,
            "tokens_scored": self.tokens_selected,
            "capped": self.tokens_selected < self.tokens_total,
            "digest": self.digest,
        }


def token_shares(lengths: Sequence[int], budget: int) -> list[int]:
    """Tokens taken from each document: all of them when the total fits ``budget`` (or budget
    is 0), else equal shares, the share a short document does not use going to the others.

    Args:
        lengths: Tokens per document.
        budget: Most tokens in all (0: no cap).
    """
    if budget <= 0 or sum(lengths) <= budget:
        return list(lengths)
    shares = [0] * len(lengths)
    remaining = budget
    by_length = sorted(range(len(lengths)), key=lambda index: lengths[index])
    for position, index in enumerate(by_length):
        shares[index] = min(lengths[index], remaining // (len(lengths) - position))
        remaining -= shares[index]
    return shares


def opening(tokenizer: "PreTrainedTokenizerBase", text: str, tokens: int) -> str:
    """The start of ``text`` made of its first ``tokens`` tokens (``text`` when it has no more)."""
    if tokens <= 0:
        return ""
    if getattr(tokenizer, "is_fast", False):
        encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        offsets = encoded["offset_mapping"]
        return text if tokens >= len(offsets) else text[: offsets[tokens - 1][1]]
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return text if tokens >= len(ids) else tokenizer.decode(ids[:tokens])


def select_texts(
    tokenizer: "PreTrainedTokenizerBase", documents: Sequence[str], max_tokens: int
) -> HeldOutTexts:
    """The texts of ``documents`` within ``max_tokens`` (see :func:`token_shares`).

    Args:
        tokenizer: The base model's tokenizer (counts tokens).
        documents: The documents' plain texts (empty ones are left out).
        max_tokens: The budget (0: no cap).
    """
    texts = [text for text in documents if text.strip()]
    lengths = [len(tokenizer(text, add_special_tokens=False)["input_ids"]) for text in texts]
    shares = token_shares(lengths, max_tokens)
    selected = [opening(tokenizer, text, share) for text, share in zip(texts, shares, strict=True)]
    kept = [text for text in selected if text]
    if not kept:
        return HeldOutTexts([], reason="the held-out documents have no text")
    return HeldOutTexts(kept, len(texts), sum(lengths), sum(shares))


def heldout_texts(
    settings: "Settings", instruct: "DatasetDict", tokenizer_path: str, max_tokens: int
) -> HeldOutTexts:
    """The held-out documents of ``instruct`` (its test split) read from the feature store and
    cut to ``max_tokens``.

    Args:
        settings: Where the vector store is (it is opened for the read and closed).
        instruct: The instruct dataset the evaluated version was trained on.
        tokenizer_path: The base model's tokenizer folder (or Hub id).
        max_tokens: The budget (0: no cap).
    """
    from llm_twin.application.dataset.heldout import held_out_document_ids, partition_documents

    ids = held_out_document_ids(instruct)
    if not ids:
        return HeldOutTexts(
            [], reason="the instruct dataset's test split names no documents (no document_id)"
        )
    from llm_twin.application.dataset.sources import read_cleaned_documents
    from llm_twin.infrastructure.db.vector_store import open_vector_store

    with open_vector_store(settings) as store:
        _, held_out = partition_documents(read_cleaned_documents(store), ids)
    if not held_out:
        return HeldOutTexts(
            [],
            reason=f"none of the {len(ids)} held-out documents is in the feature store "
            "(cleaned documents)",
        )
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_path)
    return select_texts(tokenizer, [document.content for document in held_out], max_tokens)
