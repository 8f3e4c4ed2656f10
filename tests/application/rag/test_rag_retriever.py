"""ContextRetriever on a small indexed corpus: answers rank first, filters are honoured."""

import pytest

from llm_twin.domain.exceptions import InvalidInput


@pytest.mark.parametrize(
    ("question", "link"),
    [
        ("How can I stop a chat model from refusing requests?", "https://m.example/abliteration"),
        ("How are weights compressed to 4 bits layer by layer?", "https://m.example/gptq"),
        ("How do neighbours get different importance in a GNN?", "https://m.example/gat"),
        ("Which tools does the real-time ingestion use for the vector DB?", None),
        ("What is self-query and hybrid search in RAG?", "https://p.example/rag"),
    ],
)
def test_the_answer_document_ranks_first(retriever, question, link):
    results = retriever.search(question, k=3)
    assert results, question
    if link is None:  # the cross-posted article: either copy is right
        assert results[0].link in {
            "https://p.example/streaming",
            "https://medium.example/streaming",
        }
    else:
        assert results[0].link == link
    top = results[0]
    assert top.title and top.author and top.category and top.document_id and top.score > 0
    assert {"dense", "sparse", "fused"} <= set(top.scores) or top.scores


def test_author_filter_from_the_question_and_from_the_argument(retriever, authors):
    # RAG is Paul's topic; asking Maxime restricts results to Maxime's documents.
    for results in (
        retriever.search("What did Maxime write about RAG pipelines?", k=5),
        retriever.search("RAG pipelines", k=5, author="labonne"),
    ):
        assert results and {r.author_id for r in results} == {authors["maxime"].id}
    results = retriever.search("What did Paul write about quantization?", k=5)
    assert results and {r.author for r in results} == {"Paul Iusztin"}


def test_category_filters(retriever):
    posts = retriever.search("What did Paul say in his posts about reranking?", k=5)
    assert posts and {r.category for r in posts} == {"posts"}
    code = retriever.search("training loop", k=5, categories=["code"])
    assert [r.link for r in code] == ["https://github.example/trainer"]
    with pytest.raises(InvalidInput, match="unknown data category 'videos'"):
        retriever.search("x", categories=["videos"])


def test_self_query_filters_that_match_nothing_fall_back_to_the_whole_corpus(retriever):
    # Maxime has no posts: the guessed filters would hide everything.
    results = retriever.search("What did Maxime say in his posts about reranking?", k=3)
    assert results and results[0].link == "https://p.example/post-rag"
    # An explicit filter is honoured even when it matches nothing.
    assert retriever.search("reranking", author="Maxime", categories=["posts"]) == []


def test_dedup_keeps_one_copy_of_a_cross_posted_passage(retriever):
    results = retriever.search("Bytewax streaming pipeline RabbitMQ Qdrant", k=5)
    streaming = [r for r in results if "streaming" in r.link]
    assert len(streaming) == 1
    retriever.options = type(retriever.options)(candidates=20, dedup_threshold=0)
    results = retriever.search("Bytewax streaming pipeline RabbitMQ Qdrant", k=5)
    assert len([r for r in results if "streaming" in r.link]) == 2


def test_bad_queries_are_clear_errors(retriever):
    with pytest.raises(InvalidInput, match="query is empty"):
        retriever.search("   ")
    with pytest.raises(InvalidInput, match="k must be at least 1"):
        retriever.search("gptq", k=0)
    with pytest.raises(InvalidInput, match="unknown author 'Bob'"):
        retriever.search("gptq", author="Bob")


def test_to_context_of_real_results(retriever):
    from llm_twin.application.rag import to_context

    context = to_context(retriever.search("How does GPTQ quantize weights?", k=2))
    assert context.startswith("[1] 4-bit Quantization with GPTQ — Maxime Labonne\n")
    assert "https://" not in context  # links travel in the response's sources, not the prompt


def test_from_settings_reads_authors_from_the_warehouse_without_writing(
    settings_env, indexed_store_dir, authors
):
    """The configured retriever: users come from the warehouse (read only), store from
    DATA_DIR, options from RAG_* settings."""
    from llm_twin.application.rag import ContextRetriever
    from llm_twin.domain.documents import UserDocument
    from llm_twin.infrastructure.db.edge_vector_store import open_edge_vector_store
    from llm_twin.infrastructure.db.mongo import open_warehouse
    from llm_twin.settings import get_settings

    settings = get_settings()
    with open_warehouse(settings) as warehouse:
        warehouse.users.upsert_many(
            [
                UserDocument(
                    id=a.id, first_name=a.full_name.split()[0], last_name=a.full_name.split()[1]
                )
                for a in authors.values()
            ]
        )
    store = open_edge_vector_store(indexed_store_dir / "qdrant_edge")
    try:
        with ContextRetriever.from_settings(settings, store=store) as retriever:
            assert retriever.options.top_k == settings.rag.top_k
            results = retriever.search("What did Maxime Labonne write about graphs?")
            assert results[0].link == "https://m.example/gat"
            assert retriever.search("Who is Grace Hopper?")  # unknown names are no filter
        with open_warehouse(settings) as warehouse:
            assert warehouse.users.count() == 2  # nothing created
    finally:
        store.close()


def test_works_on_the_local_mode_backend(tmp_path, embedder, authors):
    """Same results through qdrant-client's local mode (filters evaluated in Python)."""
    from rag_corpus import index_corpus

    from llm_twin.application.rag import ContextRetriever
    from llm_twin.application.rag.rerankers import EvidenceReranker
    from llm_twin.application.rag.self_query import AuthorDirectory, RuleSelfQuery
    from llm_twin.application.sparse import Bm25SparseEncoder
    from llm_twin.infrastructure.db.qdrant_client_store import open_local_vector_store

    directory = AuthorDirectory(authors.values())
    with open_local_vector_store(tmp_path / "qdrant") as store:
        index_corpus(store, embedder, Bm25SparseEncoder())
        retriever = ContextRetriever(
            store,
            embedder,
            Bm25SparseEncoder(),
            directory,
            self_query=RuleSelfQuery(directory),
            reranker=EvidenceReranker(),
        )
        results = retriever.search("What did Maxime write about refusals?", k=3)
        assert results[0].link == "https://m.example/abliteration"
        assert {r.author for r in results} == {"Maxime Labonne"}


def test_only_the_fused_best_within_the_rerank_depth_become_chunks(retriever):
    import dataclasses

    from llm_twin.application.rag.fusion import score_fusion

    question = "How are weights compressed to 4 bits layer by layer?"
    dense = retriever.store.search(
        retriever.collection, retriever.embedder.embed([question])[0], limit=20
    )
    sparse = retriever.store.search_sparse(
        retriever.collection, retriever.sparse_encoder.encode_query(question), limit=20
    )
    fused = score_fusion([{h.id: h.score for h in dense}, {h.id: h.score for h in sparse}])
    expected = sorted(fused, key=fused.__getitem__, reverse=True)[:4]
    retriever.options = dataclasses.replace(retriever.options, rerank_depth=4)
    candidates = retriever._candidates(question, None)
    assert [c.id for c in candidates] == expected  # the fused order, cut at the depth
    for chunk in candidates:
        assert chunk.score == chunk.scores["fused"] == fused[chunk.id]
        assert {"dense", "sparse"} & set(chunk.scores)
    assert len(retriever.search(question, k=10)) <= 4


def _keyword_threads() -> set:
    """The running keyword-search threads (of any retriever of the test process)."""
    import threading

    return {t for t in threading.enumerate() if t.name.startswith("sparse-search")}


def test_close_stops_the_keyword_search_thread(retriever):
    others = _keyword_threads()  # left by retrievers of other tests, if any
    retriever.search("What is self-query?")
    assert _keyword_threads() - others
    retriever.close()
    assert retriever._pool is None
    assert not _keyword_threads() - others


def test_searches_from_many_threads_share_one_keyword_thread(retriever):
    from concurrent.futures import ThreadPoolExecutor

    others = _keyword_threads()
    questions = ["What is self-query?", "How does GPTQ work?", "What is RAG?"] * 4
    with ThreadPoolExecutor(max_workers=6) as callers:
        results = list(callers.map(lambda q: retriever.search(q, k=3), questions))
    assert all(results)
    assert len(_keyword_threads() - others) == 1
    retriever.close()
    assert not _keyword_threads() - others


def test_warm_up_starts_the_keyword_thread_without_calling_an_llm(retriever):
    import dataclasses

    class DownLLM:
        def expand(self, query, count):
            raise AssertionError("warm_up called the expansion LLM")

        def extract(self, query):
            raise AssertionError("warm_up called the self-query LLM")

    retriever.expander = retriever.self_query = DownLLM()
    retriever.options = dataclasses.replace(retriever.options, expansion_count=2)
    others = _keyword_threads()
    retriever.warm_up()
    assert _keyword_threads() - others


def test_keyword_search_on_the_calling_thread_ranks_the_same(retriever):
    """Without ``keyword_search_thread`` (an encoder on every core) no thread starts and the
    ranking is the same."""
    import dataclasses

    question = "How are weights compressed to 4 bits layer by layer?"
    threaded_options = retriever.options
    others = _keyword_threads()
    retriever.options = dataclasses.replace(threaded_options, keyword_search_thread=False)
    retriever.warm_up()
    inline = retriever.search(question, k=5)
    assert retriever._pool is None
    assert not _keyword_threads() - others
    retriever.options = threaded_options
    threaded = retriever.search(question, k=5)
    assert retriever._pool is not None
    assert [(c.id, c.score) for c in inline] == [(c.id, c.score) for c in threaded]


@pytest.mark.parametrize(
    ("setting", "serving", "threads"),
    [("0", True, 1), ("0", False, "cores"), ("2", True, 2), ("1", False, 1)],
)
def test_query_encoder_threads(monkeypatch, settings_env, setting, serving, threads):
    """RAG_QUERY_THREADS=0: one thread in the service (generations run beside it), every core
    elsewhere; the keyword search gets its own thread only beside a one-thread encoder."""
    import os

    from llm_twin.application.rag import ContextRetriever
    from llm_twin.settings import get_settings

    monkeypatch.setenv("RAG_QUERY_THREADS", setting)
    monkeypatch.setenv("EMBEDDING_ENGINE", "ct2")
    get_settings.cache_clear()
    expected = os.cpu_count() if threads == "cores" else threads
    with ContextRetriever.from_settings(authors=[], warm_up=False, serving=serving) as retriever:
        assert retriever.embedder.threads == expected
        assert retriever.options.keyword_search_thread == (expected == 1)
