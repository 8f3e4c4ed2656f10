"""Keyword (BM25-style) sparse vectors for Qdrant's sparse index.

Texts are tokenised by bm25s (lower-case, English stop words removed, Snowball stemming); each
term maps to a stable 31-bit index (BLAKE2b hash, the same in every process) and gets a BM25
term-frequency weight. Qdrant's ``Modifier.IDF`` supplies the inverse document frequency at
query time, so document and query vectors together score like BM25.
"""

import functools
import hashlib
from collections import Counter
from typing import Any

from llm_twin.domain.vectors import SparseVector


@functools.cache
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def tokenize(text: str) -> list[str]:
    """Stemmed, stop-word-free, lower-case terms of ``text``."""
    import bm25s

    tokens = bm25s.tokenize(
        [text], stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False
    )
    return list(tokens[0]) if tokens else []


@functools.cache
def term_index(term: str) -> int:
    """Stable index of ``term`` in [0, 2**31)."""
    digest = hashlib.blake2b(term.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") & 0x7FFFFFFF


class Bm25SparseEncoder:
    """BM25 document/query encoder for Qdrant sparse vectors (a
    :class:`~llm_twin.domain.vectors.SparseEncoder`).

    Args:
        k1: BM25 term-frequency saturation.
        b: BM25 length normalisation (0 = none, 1 = full).
        avg_doc_length: Typical document length in terms, used for length normalisation
            (chunks are bounded by the embedder's 256-token window, ~120 terms after stop
            words are removed).
    """

    def __init__(self, k1: float = 1.2, b: float = 0.75, avg_doc_length: float = 120.0) -> None:
        self.k1 = k1
        self.b = b
        self.avg_doc_length = avg_doc_length

    def encode_document(self, text: str) -> SparseVector:
        """Sparse vector of a document: BM25 TF weight per term."""
        terms = tokenize(text)
        counts = Counter(terms)
        norm = self.k1 * (1 - self.b + self.b * len(terms) / self.avg_doc_length)
        weights: dict[int, float] = {}
        for term, tf in counts.items():
            index = term_index(term)
            weights[index] = weights.get(index, 0.0) + tf * (self.k1 + 1) / (tf + norm)
        return _to_sparse(weights)

    def encode_query(self, text: str) -> SparseVector:
        """Sparse vector of a query: weight 1 per distinct term (IDF comes from Qdrant)."""
        return _to_sparse({term_index(term): 1.0 for term in set(tokenize(text))})


def _to_sparse(weights: dict[int, float]) -> SparseVector:
    indices = sorted(weights)
    return SparseVector(indices=indices, values=[float(weights[i]) for i in indices])
