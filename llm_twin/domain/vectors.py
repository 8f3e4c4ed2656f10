"""What the vector seam speaks: points, hits, sparse vectors and the encoders that make them.

The value types travel between the feature pipeline, retrieval and every vector-store backend;
the protocols name what those consumers need from an encoder, so a test double or another
model plugs in without the consumers knowing (the implementations live in
:mod:`llm_twin.application.embeddings` and :mod:`llm_twin.application.sparse`).
"""

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

#: One accepted payload value of a filter (compared as its string form).
FilterScalar = str | int | float | bool | uuid.UUID


@dataclass(frozen=True)
class PayloadRange:
    """A numeric range a payload field must fall in (bounds inclusive; ``None``: open).

    Attributes:
        gte: Smallest accepted value.
        lte: Largest accepted value.
        include_missing: Also accept points that lack the field (or hold it empty).
    """

    gte: float | None = None
    lte: float | None = None
    include_missing: bool = False


#: ``field → value``, ``field → collection of accepted values`` or ``field → range``; every
#: pair must match.
PayloadFilter = Mapping[str, FilterScalar | Collection[FilterScalar] | PayloadRange]
#: A point's id (this project always uses UUIDs; backends may return them as strings).
PointId = uuid.UUID | str
#: A point's payload as stored: free-form JSON.
Payload = dict[str, Any]


@dataclass
class SparseVector:
    """A sparse vector: parallel lists of dimension indices and weights."""

    indices: list[int]
    values: list[float]


@dataclass
class VectorPoint:
    """One point to write: deterministic id, dense vector, optional sparse vector, payload."""

    id: PointId
    vector: Sequence[float]
    payload: Payload
    sparse: SparseVector | None = None


@dataclass
class ScoredPoint:
    """One search hit (``score`` is cosine similarity for dense search, 0 when scrolling)."""

    id: str
    score: float
    payload: Payload = field(default_factory=dict)
    vector: list[float] | None = None


class Embedder(Protocol):
    """A dense text encoder returning L2-normalised vectors (cosine = dot product)."""

    #: Which model and engine make the vectors (``all-MiniLM-L6-v2|ct2-int8``): an index
    #: built by one identity is re-embedded before another's queries search it.
    identity: str

    @property
    def dimension(self) -> int:
        """Length of the vectors."""
        ...

    @property
    def max_seq_length(self) -> int:
        """Longest input in tokens (longer inputs are truncated by the model)."""
        ...

    @property
    def tokenizer(self) -> "PreTrainedTokenizerBase":
        """The tokenizer whose tokens :attr:`max_seq_length` counts."""
        ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Vectors of ``texts``, in order."""
        ...

    def embed_query(self, text: str) -> list[float]:
        """Vector of one query."""
        ...


class SparseEncoder(Protocol):
    """A keyword encoder: sparse vectors of documents and of queries."""

    def encode_document(self, text: str) -> SparseVector:
        """Sparse vector of a stored text."""
        ...

    def encode_query(self, text: str) -> SparseVector:
        """Sparse vector of a query (may be empty: no indexed term)."""
        ...
