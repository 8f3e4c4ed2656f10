"""Reading the cleaned documents (the feature store) that datasets are generated from."""

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from llm_twin.application.dataset.samples import SourceDocument
from llm_twin.domain.features import CLEANED_DOCUMENTS_COLLECTION

if TYPE_CHECKING:
    from llm_twin.infrastructure.db.vector_store import VectorStore


def read_cleaned_documents(
    store: "VectorStore",
    author_full_names: Sequence[str] = (),
    categories: Sequence[str] = (),
    collection: str = CLEANED_DOCUMENTS_COLLECTION,
) -> list[SourceDocument]:
    """Cleaned documents from the vector store, sorted by (category, link) so runs repeat.

    Args:
        store: An open :class:`~llm_twin.infrastructure.db.vector_store.VectorStore`.
        author_full_names: Only these authors (empty: all).
        categories: Only these categories (empty: all).
        collection: The cleaned-documents collection.
    """
    if not store.collection_exists(collection):
        return []
    where: dict[str, Any] = {}
    if author_full_names:
        where["author_full_name"] = list(author_full_names)
    if categories:
        where["category"] = list(categories)
    documents = [
        SourceDocument.from_payload(point.payload)
        for point in store.scroll(collection, where=where or None)
    ]
    return sorted(documents, key=lambda d: (d.category, d.link, d.document_id))
