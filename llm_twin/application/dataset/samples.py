"""What dataset generation works on: source documents, their extracts, and sample rows.

Rows are plain dicts (JSON-serialisable, so ZenML stores them as one JSON artifact) whose keys
follow the column contract in :mod:`llm_twin.application.dataset.store`.
"""

from dataclasses import asdict, dataclass
from typing import Any

#: Columns every row carries besides its text columns (the store's contract).
META_COLUMNS = ("document_id", "category", "author_full_name", "link", "generator")


@dataclass(frozen=True)
class SourceDocument:
    """A cleaned document read from the feature store.

    Attributes:
        document_id: Id of the warehouse document.
        category: ``articles``, ``posts`` or ``repositories``.
        author_full_name: The author.
        link: URL of the source.
        title: Title (may be empty).
        content: The cleaned text.
    """

    document_id: str
    category: str
    author_full_name: str
    link: str
    title: str
    content: str

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> "SourceDocument":
        """From a ``CleanedDocument`` payload of the vector store."""
        return cls(
            document_id=str(payload["document_id"]),
            category=str(payload["category"]),
            author_full_name=str(payload.get("author_full_name") or ""),
            link=str(payload.get("link") or ""),
            title=str(payload.get("title") or ""),
            content=str(payload.get("content") or ""),
        )

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class Extract:
    """A passage of the author's own text: ``document.content[start:end]``.

    Attributes:
        document: The document it comes from.
        index: Position among the document's extracts (0-based).
        start: Offset of the first character in the document's content.
        end: Offset one past the last character.
    """

    document: SourceDocument
    index: int
    start: int
    end: int

    @property
    def text(self) -> str:
        """The author's text, exactly as in the document."""
        return self.document.content[self.start : self.end]

    def row(self, **columns: object) -> dict[str, Any]:
        """A sample row: the document's metadata columns plus ``columns``."""
        return {
            "document_id": self.document.document_id,
            "category": self.document.category,
            "author_full_name": self.document.author_full_name,
            "link": self.document.link,
            "title": self.document.title,
            "extract_index": self.index,
            **columns,
        }
