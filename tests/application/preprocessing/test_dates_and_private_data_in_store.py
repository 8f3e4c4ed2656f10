"""End to end from the warehouse to retrieval: dates and tags reach every chunk's payload, a
date filter ("in 2024", ``published_after``) is applied inside the vector search and keeps
undated documents, other people's contact details are masked, a cross-post is indexed once."""

import datetime as dt

import pytest

from llm_twin.application.crawlers.saving import save_documents
from llm_twin.application.preprocessing.sync import FeatureSync, FeatureSyncConfig
from llm_twin.application.sparse import Bm25SparseEncoder
from llm_twin.domain.documents import ArticleDocument
from llm_twin.domain.features import EMBEDDED_CHUNKS_COLLECTION
from llm_twin.infrastructure.db.qdrant_client_store import open_local_vector_store

TOPICS = {
    "evals-2023": ("2023-11-02", "evaluation harnesses for language models"),
    "chunking-2024": ("2024-03-14", "chunking markdown documents for retrieval"),
    "agents-2024": ("2024-10-03", "budgets and traces for language model agents"),
    "undated": (None, "caching embeddings of language model inputs"),
}


def article(author, slug: str, published: str | None, topic: str, extra: str = ""):
    body = " ".join(f"Notes on {topic}, point {i}, written from experience." for i in range(60))
    content = {"Title": topic.capitalize(), "Content": f"{body} {extra}".strip()}
    if published:
        content["Published"] = published
        content["Tags"] = ["llm"]
    return ArticleDocument(
        content=content, platform="blog", link=f"https://ada.dev/{slug}/",
        author_id=author.id, author_full_name=author.full_name,
    )  # fmt: skip


@pytest.fixture
def indexed(warehouse, embedder, tmp_path):
    ada, _ = warehouse.users.get_or_create("Ada Lovelace")
    documents = [article(ada, slug, date, topic) for slug, (date, topic) in TOPICS.items()]
    documents[1].content["Content"] += " Reviewed by sam.park@example.org (+1 415 555 0134)."
    save_documents(warehouse, documents)
    # The 2024 chunking post cross-posted on Medium: stored with a pointer, indexed once.
    copy = article(ada, "medium-copy", "2024-03-20", TOPICS["chunking-2024"][1])
    copy.content["Content"] = documents[1].content["Content"]
    copy.link = "https://medium.com/@ada/chunking-123"
    assert save_documents(warehouse, [copy])["documents_cross_posted"] == 1
    store = open_local_vector_store(tmp_path / "qdrant")
    FeatureSync(warehouse, store, embedder, Bm25SparseEncoder(), FeatureSyncConfig()).run()
    yield ada, store


def test_payloads_carry_dates_and_tags_and_no_private_data(indexed) -> None:
    _, store = indexed
    points = list(store.scroll(EMBEDDED_CHUNKS_COLLECTION))
    links = {point.payload["link"] for point in points}
    assert "https://medium.com/@ada/chunking-123" not in links  # the cross-post
    assert len(links) == 4
    for point in points:
        slug = point.payload["link"].split("/")[-2]
        date = TOPICS[slug][0]
        assert point.payload.get("published") == date
        if date:
            assert point.payload["published_day"] == int(date.replace("-", ""))
            assert point.payload["tags"] == ["llm"]
        assert "sam.park@example.org" not in point.payload["content"]
        assert "415 555" not in point.payload["content"]
    store.close()


def test_date_filters_inside_the_search(indexed) -> None:
    from llm_twin.application.rag import ContextRetriever, RetrievalOptions
    from llm_twin.application.rag.rerankers import EvidenceReranker
    from llm_twin.application.rag.self_query import Author, AuthorDirectory, RuleSelfQuery

    ada, store = indexed
    directory = AuthorDirectory([Author(str(ada.id), ada.full_name)])
    retriever = ContextRetriever(
        store, indexed_embedder(), Bm25SparseEncoder(), directory,
        self_query=RuleSelfQuery(directory), reranker=EvidenceReranker(),
        options=RetrievalOptions(candidates=40, dedup_threshold=0), owns_store=True,
    )  # fmt: skip

    def links(query: str, **dates) -> set[str]:
        found = retriever.search(query, k=20, **dates)
        return {chunk.link.split("/")[-2] for chunk in found}

    try:
        assert links("What did Ada Lovelace write about language models in 2024?") == {
            "chunking-2024", "agents-2024", "undated",
        }  # fmt: skip
        assert links("language models", published_after=dt.date(2024, 6, 1)) == {
            "agents-2024", "undated",
        }  # fmt: skip
        assert links("language models", published_before=dt.date(2023, 12, 31)) == {
            "evals-2023", "undated",
        }  # fmt: skip
        assert links("language models") == set(TOPICS)  # no scope, no filter
    finally:
        retriever.close()


def indexed_embedder():
    from llm_twin.application.embeddings import get_embedder

    return get_embedder()
