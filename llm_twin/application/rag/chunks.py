"""What retrieval returns: ranked chunks with their source, and the prompt context built
from them."""

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RetrievedChunk:
    """One retrieved passage with where it comes from.

    Attributes:
        id: The chunk's point id in the vector store.
        content: The chunk's text.
        score: Relevance score of the final ranking stage (higher is better; comparable only
            within one result list).
        document_id: Id of the source document in the warehouse.
        title: Title of the source document, if it has one.
        link: URL of the source document (what answers cite).
        author: Full name of the author.
        author_id: Id of the author.
        category: Data category of the source (``articles``, ``posts``, ``repositories``).
        platform: Where the source was published.
        chunk_index: Position of the chunk in its document (0-based).
        start_char: Offset of the chunk's first character in the cleaned document.
        end_char: Offset one past the chunk's last character in the cleaned document.
        scores: Per-stage scores that led to ``score`` (``dense``, ``sparse``, ``fused``…),
            for inspection and benchmarks.
    """

    id: str
    content: str
    score: float
    document_id: str
    title: str | None
    link: str
    author: str
    author_id: str
    category: str
    platform: str
    chunk_index: int
    start_char: int = 0
    end_char: int = 0
    scores: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def from_payload(
        cls,
        point_id: str,
        payload: Mapping[str, Any],
        score: float,
        scores: Mapping[str, float] | None = None,
    ) -> "RetrievedChunk":
        """Build a chunk from a vector-store hit whose payload holds the ``Chunk`` fields
        (``scores``: the per-stage scores behind ``score``)."""
        return cls(
            id=str(point_id),
            content=str(payload.get("content", "")),
            score=float(score),
            document_id=str(payload.get("document_id", "")),
            title=payload.get("title"),
            link=str(payload.get("link", "")),
            author=str(payload.get("author_full_name", "")),
            author_id=str(payload.get("author_id", "")),
            category=str(payload.get("category", "")),
            platform=str(payload.get("platform", "")),
            chunk_index=int(payload.get("chunk_index", 0) or 0),
            start_char=int(payload.get("start_char", 0) or 0),
            end_char=int(payload.get("end_char", 0) or 0),
            scores=dict(scores or {}),
        )

    def with_score(self, score: float, stage: str) -> "RetrievedChunk":
        """A copy scored ``score`` by ``stage`` (kept in :attr:`scores` too).

        A shallow copy with the two fields set: ``dataclasses.replace`` runs ``__init__``
        again and cost twice as much, for every candidate of every query."""
        clone = copy.copy(self)
        object.__setattr__(clone, "score", float(score))
        object.__setattr__(clone, "scores", {**self.scores, stage: float(score)})
        return clone

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields."""
        return {
            "id": self.id,
            "link": self.link,
            "title": self.title,
            "author": self.author,
            "author_id": self.author_id,
            "category": self.category,
            "platform": self.platform,
            "document_id": self.document_id,
            "chunk_index": self.chunk_index,
            "start_char": self.start_char,
            "end_char": self.end_char,
            "score": self.score,
            "text": self.content,
        }


def to_context(chunks: Sequence[RetrievedChunk], *, max_chars: int | None = None) -> str:
    """The prompt context: numbered passages, each headed by its title and author.

    Passages from the same link share one source number, so an answer citing ``[2]`` points
    to one URL. The URLs themselves stay out of the prompt (the response carries them in its
    ``sources``): a list of links cost ~80-120 prompt tokens, about 10 % of the local model's
    time to first token, and the model cannot use them.

    Args:
        chunks: Retrieved chunks, best first.
        max_chars: Stop adding passages once the context would exceed this many characters
            (``None``: no limit). The first passage is always included.
    """
    if not chunks:
        return ""
    numbers: dict[str, int] = {}
    passages: list[str] = []
    length = 0
    for chunk in chunks:
        key = chunk.link or chunk.document_id
        number = numbers.get(key)
        new_source = number is None
        if number is None:
            number = len(numbers) + 1
        title = chunk.title or chunk.link or chunk.document_id
        passage = f"[{number}] {title} — {chunk.author}\n{chunk.content.strip()}"
        if max_chars is not None and passages and length + len(passage) > max_chars:
            break
        if new_source:
            numbers[key] = number
        passages.append(passage)
        length += len(passage) + 2
    return "\n\n".join(passages)
