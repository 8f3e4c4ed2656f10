"""Pydantic entities of LLM Twin (no I/O)."""

from llm_twin.domain.documents import (
    CONTENT_DOCUMENT_TYPES,
    ArticleDocument,
    ContentDocument,
    PostDocument,
    RepositoryDocument,
    UserDocument,
    document_type_for,
)
from llm_twin.domain.features import Chunk, CleanedDocument, EmbeddedChunk, chunk_id
from llm_twin.domain.types import DataCategory

__all__ = [
    "CONTENT_DOCUMENT_TYPES",
    "ArticleDocument",
    "Chunk",
    "CleanedDocument",
    "ContentDocument",
    "DataCategory",
    "EmbeddedChunk",
    "PostDocument",
    "RepositoryDocument",
    "UserDocument",
    "chunk_id",
    "document_type_for",
]
