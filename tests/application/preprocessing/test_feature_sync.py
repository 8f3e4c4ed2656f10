import uuid

import numpy as np
import pytest

from llm_twin.application.preprocessing.chunking import ChunkingConfig
from llm_twin.application.preprocessing.sync import FeatureSync, FeatureSyncConfig
from llm_twin.application.sparse import Bm25SparseEncoder
from llm_twin.domain.documents import ArticleDocument, UserDocument
from llm_twin.domain.features import (
    CLEANED_DOCUMENTS_COLLECTION,
    EMBEDDED_CHUNKS_COLLECTION,
    Chunk,
    CleanedDocument,
    chunk_id,
)
from llm_twin.domain.types import DataCategory
from llm_twin.domain.vectors import VectorPoint
from llm_twin.infrastructure.db.qdrant_client_store import open_local_vector_store

# Small chunks keep the real encoder's work tiny while still giving several chunks a document.
SMALL = FeatureSyncConfig(
    chunking={DataCategory.ARTICLES: ChunkingConfig(chunk_tokens=64, overlap_tokens=0)}
)


def article(author: UserDocument, slug: str, topic: str, sentences: int = 12) -> ArticleDocument:
    body = " ".join(f"{topic} fact {i} is worth knowing." for i in range(sentences))
    return ArticleDocument(
        content={"Title": f"On {topic}", "Content": f"# On {topic}\n\n{body}"},
        platform="blog",
        link=f"https://blog.test/{slug}",
        author_id=author.id,
        author_full_name=author.full_name,
    )


@pytest.fixture
def authors(warehouse):
    ada, _ = warehouse.users.get_or_create("Ada Lovelace")
    alan, _ = warehouse.users.get_or_create("Alan Turing")
    return ada, alan


@pytest.fixture
def store(tmp_path):
    with open_local_vector_store(tmp_path / "qdrant") as opened:
        yield opened


def _sync(warehouse, store, embedder, config=SMALL) -> FeatureSync:
    return FeatureSync(warehouse, store, embedder, Bm25SparseEncoder(), config)


def _chunk_ids(store, document_id=None) -> set[str]:
    where = {"document_id": str(document_id)} if document_id else None
    return {point.id for point in store.scroll(EMBEDDED_CHUNKS_COLLECTION, where=where)}


def test_first_run_indexes_and_second_run_is_a_no_op(warehouse, store, embedder, authors):
    ada, alan = authors
    warehouse.articles.upsert_many(
        [article(ada, "a", "compilers"), article(alan, "b", "ciphers"), article(ada, "c", "looms")]
    )
    first = _sync(warehouse, store, embedder).run()
    assert first.documents_processed == 3 and first.documents_skipped == 0
    assert first.chunks_embedded == first.chunks_total >= 6
    assert first.cleaned_total == 3
    assert first.per_category == {"articles": {"documents": 3, "chunks": first.chunks_embedded}}
    ids_before = _chunk_ids(store)

    second = _sync(warehouse, store, embedder).run()
    assert (second.documents_processed, second.documents_skipped, second.chunks_embedded) == (
        0,
        3,
        0,
    )
    assert (second.chunks_total, second.cleaned_total) == (first.chunks_total, 3)
    assert _chunk_ids(store) == ids_before

    # The stored records follow the index contract.
    point = next(store.scroll(EMBEDDED_CHUNKS_COLLECTION, with_vectors=True))
    chunk = Chunk.model_validate({"id": point.id, **point.payload})
    assert point.id == str(chunk_id(chunk.document_id, chunk.chunk_index, chunk.content))
    assert abs(np.linalg.norm(point.vector) - 1) < 1e-4
    hits = store.search_sparse(
        EMBEDDED_CHUNKS_COLLECTION, Bm25SparseEncoder().encode_query("ciphers"), limit=3
    )
    assert hits and all(hit.payload["title"] == "On ciphers" for hit in hits)


def test_editing_one_document_changes_only_its_chunks(warehouse, store, embedder, authors):
    ada, alan = authors
    docs = [article(ada, "a", "compilers"), article(alan, "b", "ciphers")]
    warehouse.articles.upsert_many(docs)
    _sync(warehouse, store, embedder).run()
    edited_id = warehouse.articles.get_by_link(docs[0].link).id
    other_id = warehouse.articles.get_by_link(docs[1].link).id
    other_before = _chunk_ids(store, other_id)
    edited_before = _chunk_ids(store, edited_id)

    changed = article(ada, "a", "compilers", sentences=30)  # same link, longer text
    assert warehouse.articles.upsert_many([changed]).updated == 1
    report = _sync(warehouse, store, embedder).run()

    assert (report.documents_processed, report.documents_skipped) == (1, 1)
    assert _chunk_ids(store, other_id) == other_before
    edited_after = _chunk_ids(store, edited_id)
    assert edited_after and edited_after != edited_before
    assert report.chunks_deleted == len(edited_before - edited_after)
    assert report.chunks_total == len(other_before) + len(edited_after)
    cleaned = CleanedDocument.model_validate(
        {
            "id": str(edited_id),
            **next(
                store.scroll(CLEANED_DOCUMENTS_COLLECTION, where={"document_id": str(edited_id)})
            ).payload,
        }
    )
    assert cleaned.source_hash == warehouse.articles.get(edited_id).content_hash
    assert "fact 29" in cleaned.content


def test_deleted_documents_and_orphan_chunks_are_removed(warehouse, store, embedder, authors):
    ada, _ = authors
    docs = [article(ada, "a", "compilers"), article(ada, "b", "looms")]
    warehouse.articles.upsert_many(docs)
    sync = _sync(warehouse, store, embedder)
    sync.run()
    gone = warehouse.articles.get_by_link(docs[0].link)
    kept = warehouse.articles.get_by_link(docs[1].link)
    # An interrupted write left chunks of a document that no longer exists and has no copy.
    orphan_doc = uuid.uuid4()
    store.upsert(
        EMBEDDED_CHUNKS_COLLECTION,
        [
            VectorPoint(
                id=uuid.uuid4(),
                vector=[1.0] + [0.0] * 383,
                payload={"document_id": str(orphan_doc)},
            )
        ],
    )
    assert warehouse.articles.delete(gone.id)

    report = sync.run()
    assert report.documents_deleted == 2 and report.documents_processed == 0
    assert _chunk_ids(store, gone.id) == set() and _chunk_ids(store, orphan_doc) == set()
    assert [p.id for p in store.scroll(CLEANED_DOCUMENTS_COLLECTION)] == [str(kept.id)]
    assert report.chunks_total == len(_chunk_ids(store, kept.id)) > 0


def test_author_filter_and_cleaned_vector_is_mean_of_chunks(warehouse, store, embedder, authors):
    ada, alan = authors
    warehouse.articles.upsert_many([article(ada, "a", "compilers"), article(alan, "b", "ciphers")])
    config = SMALL.model_copy(update={"author_full_names": ["Alan Turing"]})
    report = _sync(warehouse, store, embedder, config).run()
    assert report.documents_processed == 1 and report.documents_skipped == 0
    (cleaned,) = list(store.scroll(CLEANED_DOCUMENTS_COLLECTION, with_vectors=True))
    assert cleaned.payload["author_full_name"] == "Alan Turing"
    chunks = list(store.scroll(EMBEDDED_CHUNKS_COLLECTION, with_vectors=True))
    mean = np.mean([c.vector for c in chunks], axis=0)
    assert np.allclose(cleaned.vector, mean / np.linalg.norm(mean), atol=1e-5)


def test_a_failed_write_is_raised_and_stops_later_writes(store):
    from llm_twin.application.preprocessing.sync import SyncReport, _Writer

    store.ensure_collection("present", 3)
    point = VectorPoint(id=uuid.uuid4(), vector=[1.0, 0.0, 0.0], payload={"document_id": "d"})
    report = SyncReport()
    with pytest.raises(ValueError, match="missing"), _Writer(report) as writer:
        writer.submit(store.upsert, "missing", [point])  # fails on the writer thread
        writer.submit(store.upsert, "missing", [point])
        writer.submit(store.upsert, "present", [point])
    assert store.count("present") == 0
    assert report.seconds["load"] > 0


def test_an_encoder_change_re_embeds_once(warehouse, store, authors, tmp_path):
    """The index is built by the encoder its queries use: switching engines re-embeds every
    document once (the stored encoder identity differs), then syncs are no-ops again."""
    pytest.importorskip("ctranslate2")
    from llm_twin.application.embeddings import CTranslate2Embedder, get_embedder

    embedder = get_embedder(engine="sentence-transformers")
    ada, alan = authors
    warehouse.articles.upsert_many([article(ada, "a", "compilers"), article(alan, "b", "ciphers")])
    assert _sync(warehouse, store, embedder).run().documents_processed == 2
    fast = CTranslate2Embedder(cache_dir=tmp_path / "models", threads=1)
    assert fast.identity != embedder.identity
    switched = _sync(warehouse, store, fast).run()
    assert (switched.documents_processed, switched.documents_skipped) == (2, 0)
    again = _sync(warehouse, store, fast).run()
    assert (again.documents_processed, again.documents_skipped) == (0, 2)
    identities = {p.payload["embedder"] for p in store.scroll(CLEANED_DOCUMENTS_COLLECTION)}
    assert identities == {fast.identity}
