"""Save crawled documents into the warehouse without duplicates or needless rewrites."""

from collections.abc import Iterable

from llm_twin.application.crossposts import mark_cross_posts
from llm_twin.domain.documents import ContentDocument
from llm_twin.infrastructure.db.warehouse import UpsertResult, Warehouse


def save_documents(warehouse: Warehouse, documents: Iterable[ContentDocument]) -> dict[str, int]:
    """Upsert ``documents`` by link; return counts.

    A document whose content is already stored unchanged is left alone (same id, same
    ``updated_at``, same ``crawled_at``); changed content is updated in place under the stored
    id (new content hash, new ``updated_at``); new links are inserted. Saving the same crawl
    twice therefore changes nothing.

    Returns:
        ``documents_inserted``, ``documents_updated``, ``documents_unchanged`` and per category
        ``<category>_inserted`` / ``<category>_updated``.
    """
    by_category: dict[str, dict[str, ContentDocument]] = {}
    for document in documents:
        # Two links can yield the same document (a post listed twice): keep the last one.
        by_category.setdefault(str(document.category), {})[document.link] = document
    total = UpsertResult()
    counts: dict[str, int] = {}
    cross_posted = _mark_cross_posts(warehouse, by_category)
    for category, batch in sorted(by_category.items()):
        repository = warehouse.documents(category)
        changed, unchanged = [], 0
        for document in batch.values():
            stored = repository.get_by_link(document.link)
            if stored is not None and stored.content_hash == document.content_hash:
                unchanged += 1
            else:
                changed.append(document)
        result = repository.upsert_many(changed) + UpsertResult(unchanged=unchanged)
        total += result
        counts[f"{category}_inserted"] = result.inserted
        counts[f"{category}_updated"] = result.updated
    return {
        "documents_inserted": total.inserted,
        "documents_updated": total.updated,
        "documents_unchanged": total.unchanged,
        **counts,
        **({"documents_cross_posted": cross_posted} if cross_posted else {}),
    }


def _mark_cross_posts(
    warehouse: Warehouse, by_category: dict[str, dict[str, ContentDocument]]
) -> int:
    """Point new texts already stored under another link at their first copy (see
    :mod:`llm_twin.application.crossposts`). Only authors with new documents are read."""
    documents = [doc for batch in by_category.values() for doc in batch.values()]
    authors = {document.author_id for document in documents}
    links = {document.link for document in documents}
    stored = [
        stored
        for category in by_category
        for author in authors
        for stored in warehouse.documents(category).find(author_id=author)
        if stored.link not in links
    ]
    return mark_cross_posts(documents, stored)
