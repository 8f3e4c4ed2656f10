"""Feature-store entities: cleaned documents, chunks and embedded chunks.

These live in the vector store. Their ids are deterministic so re-running the feature pipeline
overwrites instead of duplicating.
"""

import hashlib
import uuid

from pydantic import Field

from llm_twin.domain.base import Entity
from llm_twin.domain.types import DataCategory

#: Namespace for chunk ids: uuid5(CHUNK_NAMESPACE, "<document id>:<index>:<sha256 of text>").
CHUNK_NAMESPACE = uuid.UUID("6f0b3e4c-5d2a-5b8e-9c1f-2a7d4e6b8c90")


class FeatureEntity(Entity):
    """Fields every feature-store record carries for filtering and citing.

    Attributes:
        document_id: Id of the raw warehouse document this record comes from.
        category: Data category of the source document.
        author_id: Id of the author.
        author_full_name: The author's full name.
        platform: Where the source was published.
        link: URL of the source (what answers cite).
        title: Title of the source, if it has one.
    """

    document_id: uuid.UUID
    category: DataCategory
    author_id: uuid.UUID
    author_full_name: str
    platform: str
    link: str
    title: str | None = None


class CleanedDocument(FeatureEntity):
    """A raw document reduced to clean text; its ``id`` equals ``document_id``.

    Attributes:
        content: The cleaned text (Markdown structure and code kept).
        source_hash: ``content_hash`` of the raw document it was cleaned from; a different hash
            in the warehouse means this copy is stale.
        embedder: Identity of the encoder that embedded it and its chunks (``Embedder.
            identity``); another encoder's queries need it re-embedded, so it is stale too.
    """

    content: str
    source_hash: str
    embedder: str = ""


class Chunk(FeatureEntity):
    """A retrieval unit cut from a cleaned document.

    Attributes:
        content: The chunk's text.
        chunk_index: Position of the chunk in its document (0-based).
        start_char: Offset of the chunk's first character in the cleaned text.
        end_char: Offset one past the chunk's last character in the cleaned text.
        source_hash: ``content_hash`` of the raw document the chunk was cut from.
    """

    content: str
    chunk_index: int = Field(ge=0)
    start_char: int = Field(ge=0, default=0)
    end_char: int = Field(ge=0, default=0)
    source_hash: str


class EmbeddedChunk(Chunk):
    """A chunk with its dense embedding (normalised, so cosine = dot product).

    Attributes:
        embedding: The dense vector from the configured embedder.
    """

    embedding: list[float]


def chunk_id(document_id: uuid.UUID, chunk_index: int, content: str) -> uuid.UUID:
    """Deterministic chunk id from its document, position and text."""
    digest = hashlib.sha256(content.encode("utf-8")).hexdigest()
    return uuid.uuid5(CHUNK_NAMESPACE, f"{document_id}:{chunk_index}:{digest}")


#: Vector-store collection of cleaned documents (the logical feature store for datasets).
CLEANED_DOCUMENTS_COLLECTION = "cleaned_documents"
#: Vector-store collection of embedded chunks (what retrieval searches).
EMBEDDED_CHUNKS_COLLECTION = "embedded_chunks"
