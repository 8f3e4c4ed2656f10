"""The retrieval half of the inference pipeline: question in, ranked source passages out.

``ContextRetriever.search`` runs self-query (author/category filters), optional query
expansion, dense + sparse search with the filters applied inside the vector store, fusion,
reranking and dedup. The embedder, stores and author list are loaded once and reused.
"""

import dataclasses
import datetime as dt
import heapq
import os
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from loguru import logger

from llm_twin.application.publication import DateRange
from llm_twin.application.rag.chunks import RetrievedChunk
from llm_twin.application.rag.dedup import deduplicate
from llm_twin.application.rag.fusion import FusionMethod, reciprocal_rank_fusion, score_fusion
from llm_twin.application.rag.rerankers import Reranker, build_reranker
from llm_twin.application.rag.self_query import (
    Author,
    AuthorDirectory,
    LLMSelfQuery,
    QueryFilters,
    RuleSelfQuery,
)
from llm_twin.domain.exceptions import InvalidInput
from llm_twin.domain.features import EMBEDDED_CHUNKS_COLLECTION
from llm_twin.domain.types import DataCategory
from llm_twin.domain.vectors import (
    Embedder,
    FilterScalar,
    PayloadRange,
    ScoredPoint,
    SparseEncoder,
)
from llm_twin.settings import Settings, get_settings

if TYPE_CHECKING:
    from llm_twin.infrastructure.db.vector_store import VectorStore

#: A search filter: author ids and category values (one value or any of several), the
#: publication-day range.
Where = dict[str, FilterScalar | list[FilterScalar] | PayloadRange]


class FilterExtractor(Protocol):
    """Reads author and category filters from a question (see
    :mod:`llm_twin.application.rag.self_query`)."""

    def extract(self, query: str) -> QueryFilters:
        """The filters and the text left to search."""
        ...


class QueryExpander(Protocol):
    """Reformulates a question (see :mod:`llm_twin.application.rag.expansion`)."""

    def expand(self, query: str, count: int) -> list[str]:
        """Up to ``count`` reformulations of ``query``."""
        ...


_NO_RETRIEVAL_LLM = (
    "an LLM-based retrieval stage is enabled but no LLM is configured: set "
    "OPENAI_BASE_URL (and OPENAI_MODEL_ID / OPENAI_API_KEY)"
)


@dataclass(frozen=True)
class RetrievalOptions:
    """How :meth:`ContextRetriever.search` ranks (defaults come from the ``RAG_*`` settings).

    Attributes:
        top_k: Chunks returned when ``search`` gets no ``k``.
        candidates: Hits per search (dense and sparse, per query variant) fed into fusion.
        fusion: ``rrf`` or ``score`` (see :mod:`llm_twin.application.rag.fusion`).
        dense_weight: Weight of the dense ranking (0: no dense search).
        sparse_weight: Weight of the sparse ranking (0: no sparse search).
        rrf_k: The RRF damping constant.
        expansion_count: Query reformulations to search as well (needs an expander).
        rerank_depth: Fused candidates handed to the reranker.
        dedup_threshold: Near-duplicate threshold for dedup (0: dedup off).
        keyword_search_thread: Run the keyword searches on a second thread while the query
            is embedded. Worth it when the encoder runs on one thread and leaves a core free:
            an encoder on every core is slowed by it more than the searches take.
    """

    top_k: int = 5
    candidates: int = 50
    fusion: FusionMethod = "score"
    dense_weight: float = 1.0
    sparse_weight: float = 1.0
    rrf_k: float = 60.0
    expansion_count: int = 0
    rerank_depth: int = 50
    dedup_threshold: float = 0.8
    keyword_search_thread: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> "RetrievalOptions":
        return cls(
            top_k=settings.rag.top_k,
            candidates=settings.rag.candidates,
            fusion=settings.rag.fusion,
            dense_weight=settings.rag.dense_weight,
            sparse_weight=settings.rag.sparse_weight,
            rrf_k=settings.rag.rrf_k,
            expansion_count=settings.rag.expansion_count,
            rerank_depth=settings.rag.rerank_depth,
            dedup_threshold=settings.rag.dedup_threshold,
        )


class ContextRetriever:
    """Hybrid, filtered, reranked retrieval over the embedded-chunks collection.

    Args:
        store: An open vector store (any backend).
        embedder: The dense embedder the chunks were indexed with (``embed(texts)``).
        sparse_encoder: The sparse encoder the chunks were indexed with (``encode_query``).
        directory: Known authors for self-query and the ``author`` argument.
        self_query: The filter extractor (``extract(query) -> QueryFilters``), or ``None``.
        reranker: The reranker plug-in.
        expander: Query expander (``expand(query, n) -> list[str]``), or ``None``.
        options: Ranking options.
        collection: The collection to search.
        owns_store: Close ``store`` in :meth:`close`.
    """

    def __init__(
        self,
        store: "VectorStore",
        embedder: Embedder,
        sparse_encoder: SparseEncoder,
        directory: AuthorDirectory,
        *,
        self_query: FilterExtractor | None = None,
        reranker: Reranker | None = None,
        expander: QueryExpander | None = None,
        options: RetrievalOptions | None = None,
        collection: str = EMBEDDED_CHUNKS_COLLECTION,
        owns_store: bool = False,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.sparse_encoder = sparse_encoder
        self.directory = directory
        self.self_query = self_query
        self.reranker = reranker or build_reranker("none")
        self.expander = expander
        self.options = options or RetrievalOptions()
        self.collection = collection
        self._owns_store = owns_store
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()  # the service searches from several threads

    @classmethod
    def from_settings(
        cls,
        settings: Settings | None = None,
        *,
        store: "VectorStore | None" = None,
        authors: Sequence[Author] | None = None,
        warm_up: bool = True,
        serving: bool = False,
    ) -> "ContextRetriever":
        """A retriever configured by the ``RAG_*`` settings.

        Args:
            settings: Defaults to :func:`get_settings`.
            store: An open vector store; when ``None`` the configured one is opened and owned
                (closed by :meth:`close`).
            authors: Known authors; when ``None`` they are read (only read) from the
                warehouse's users.
            warm_up: Load the models now (see :meth:`warm_up`).
            serving: For the inference service, where generations run beside the queries:
                with ``RAG_QUERY_THREADS=0`` the query encoder takes one thread, not one per
                core.
        """
        from llm_twin.application.embeddings import get_embedder
        from llm_twin.application.rag.expansion import LLMQueryExpander
        from llm_twin.application.sparse import Bm25SparseEncoder
        from llm_twin.infrastructure.db.vector_store import open_vector_store
        from llm_twin.infrastructure.llm.factory import openai_backend_from_settings

        settings = settings or get_settings()
        if authors is None:
            authors = load_authors(settings)
        directory = AuthorDirectory(authors)
        llm = None
        if settings.rag.self_query == "llm" or settings.rag.expansion_count > 0:
            llm = openai_backend_from_settings(
                settings, timeout=settings.rag.llm_timeout, retries=1, missing=_NO_RETRIEVAL_LLM
            )
        self_query: FilterExtractor | None = None
        if settings.rag.self_query == "rules":
            self_query = RuleSelfQuery(directory)
        elif settings.rag.self_query == "llm":
            self_query = LLMSelfQuery(llm, directory)  # type: ignore[arg-type]
        reranker = build_reranker(
            settings.rag.reranker,
            settings.rag.reranker_model,
            settings.rag.embedding_device,
            doc_weight=settings.rag.evidence_doc_weight,
            title_weight=settings.rag.evidence_title_weight,
        )
        threads = settings.rag.query_threads or (1 if serving else os.cpu_count() or 1)
        options = dataclasses.replace(
            RetrievalOptions.from_settings(settings), keyword_search_thread=threads == 1
        )
        owns_store = store is None
        store = store if store is not None else open_vector_store(settings)
        retriever = cls(
            store,
            get_embedder(
                settings.rag.embedding_model_id,
                settings.rag.embedding_device,
                engine=settings.rag.embedding_engine,
                threads=threads,
            ),
            Bm25SparseEncoder(),
            directory,
            self_query=self_query,
            reranker=reranker,
            expander=LLMQueryExpander(llm)
            if llm is not None and settings.rag.expansion_count
            else None,
            options=options,
            owns_store=owns_store,
        )
        if warm_up:
            retriever.warm_up()
        return retriever

    def _embed_queries(self, texts: list[str]) -> list[list[float]]:
        """Dense vectors of the query texts. The thread count is the encoder's own (the ct2
        encoder is built with ``RAG_QUERY_THREADS``): never torch's process-wide setting, which
        would also throttle a generation running beside the query."""
        return self.embedder.embed(texts)

    def warm_up(self) -> None:
        """Load the models and open the collection now, so the first ``search`` is not slowed
        by one-time loading (the embedder loads lazily; the first forward pass is slow; the
        keyword tokenizer, its stemmer and the search thread start on first use; the embedded
        store reads payloads on first use). No LLM is called: self-query and expansion may use
        a server that is not up yet."""
        text = "How do I warm up the retrieval models?"
        for _ in range(2):
            vector = self.embedder.embed([text])[0]
        self.embedder.embed([text * 8])  # a long question sizes the encoder's buffers
        if self.store.collection_exists(self.collection):
            self.store.preload(self.collection)
            if self.options.keyword_search_thread:
                self._sparse_pool().submit(self._sparse_searches, [text], None).result()
            else:
                self._sparse_searches([text], None)
            self.store.search(self.collection, vector, limit=1)

    # -- the search --------------------------------------------------------------------------
    def search(
        self,
        query: str,
        k: int | None = None,
        author: str | None = None,
        categories: Sequence[str | DataCategory] | None = None,
        published_after: dt.date | None = None,
        published_before: dt.date | None = None,
    ) -> list[RetrievedChunk]:
        """The ``k`` best passages for ``query``, best first.

        Args:
            query: The question.
            k: How many chunks to return (default ``options.top_k``).
            author: Restrict to this author (case-insensitive, partial names accepted);
                overrides the author self-query reads from the question.
            categories: Restrict to these categories (``articles``, ``posts``, ``code``…);
                overrides the categories self-query reads from the question.
            published_after: Keep passages published on or after this day (and undated ones);
                with ``published_before``, overrides a time scope read from the question
                ("in 2024", "recently").
            published_before: Keep passages published on or before this day (and undated ones).

        Raises:
            InvalidInput: empty query, k < 1, unknown author or category.
        """
        if not query or not query.strip():
            raise InvalidInput("the query is empty")
        k = self.options.top_k if k is None else k
        if k < 1:
            raise InvalidInput(f"k must be at least 1, got {k}")
        started = time.perf_counter()
        filters = self._filters(query, author, categories)
        where = _where(filters)
        explicit_dates = published_after is not None or published_before is not None
        dates = DateRange(published_after, published_before) if explicit_dates else filters.dates
        if dates is not None:  # applied inside the vector search, undated passages kept
            where = {**(where or {}), **dates.where()}
        hits = self._candidates(filters.query, where)
        if not hits and where and author is None and categories is None and not explicit_dates:
            # The filters came from reading the question; a wrong guess must not hide results.
            logger.info("no hits with self-query filters {}; searching without them", where)
            hits = self._candidates(filters.query, None)
        ranked = self.reranker.rerank(filters.query, hits)
        if self.options.dedup_threshold > 0:
            ranked = deduplicate(ranked, self.options.dedup_threshold, limit=k)
        logger.debug(
            "retrieved {} chunks in {:.1f} ms (filters {})",
            min(k, len(ranked)),
            (time.perf_counter() - started) * 1000,
            where,
        )
        return ranked[:k]

    def _filters(
        self, query: str, author: str | None, categories: Sequence[str | DataCategory] | None
    ) -> QueryFilters:
        extracted = self.self_query.extract(query) if self.self_query else QueryFilters(query)
        authors = extracted.authors
        search_text = extracted.query
        if author is not None and author.strip():
            authors = tuple(self.directory.resolve(author))
        if categories is not None:
            try:
                parsed = tuple(DataCategory.parse(str(c)) for c in categories)
            except ValueError as error:
                raise InvalidInput(str(error)) from None
        else:
            parsed = extracted.categories
        return QueryFilters(search_text, authors, parsed, extracted.dates)

    def _candidates(self, text: str, where: Where | None) -> list[RetrievedChunk]:
        """Fused dense + sparse hits for ``text`` and its expansions, best first: the
        ``rerank_depth`` best only, the rest is never reranked (and costs no chunk)."""
        options = self.options
        texts = [text]
        if self.expander is not None and options.expansion_count > 0:
            texts += self.expander.expand(text, options.expansion_count)
        payloads: dict[str, Mapping[str, Any]] = {}
        raw_scores: list[dict[str, float]] = []
        weights: list[float] = []
        best: dict[str, dict[str, float]] = {}

        def collect(stage: str, hits: list[ScoredPoint], weight: float) -> None:
            scores = {}
            for hit in hits:
                payloads.setdefault(hit.id, hit.payload)
                scores[hit.id] = hit.score
                stage_scores = best.setdefault(hit.id, {})
                stage_scores[stage] = max(stage_scores.get(stage, float("-inf")), hit.score)
            raw_scores.append(scores)  # a dict keeps the store's order: the ranking for RRF
            weights.append(weight)

        # With ``keyword_search_thread`` the keyword searches run on a second thread while the
        # query is embedded (the encoder releases the GIL). Either way the results are
        # collected in the same order, so the ranking does not depend on which finished first.
        sparse_hits: Future[list[list[ScoredPoint]]] | None = None
        if options.sparse_weight > 0 and options.keyword_search_thread:
            sparse_hits = self._sparse_pool().submit(self._sparse_searches, texts, where)
        if options.dense_weight > 0:
            for vector in self._embed_queries(texts):
                hits = self.store.search(
                    self.collection, vector, limit=options.candidates, where=where
                )
                collect("dense", hits, options.dense_weight)
        if sparse_hits is not None:
            sparse_results = sparse_hits.result()
        else:
            sparse_results = self._sparse_searches(texts, where) if options.sparse_weight else []
        for hits in sparse_results:
            collect("sparse", hits, options.sparse_weight)
        if options.fusion == "rrf":
            fused = reciprocal_rank_fusion([list(s) for s in raw_scores], weights, options.rrf_k)
        else:
            fused = score_fusion(raw_scores, weights)
        ordered = heapq.nlargest(options.rerank_depth, fused.items(), key=lambda item: item[1])
        return [
            RetrievedChunk.from_payload(
                point_id, payloads[point_id], score, {**best[point_id], "fused": score}
            )
            for point_id, score in ordered
        ]

    def _sparse_searches(self, texts: list[str], where: Where | None) -> list[list[ScoredPoint]]:
        """The keyword (BM25) hits of each query text that has known terms."""
        results = []
        for variant in texts:
            sparse = self.sparse_encoder.encode_query(variant)
            if sparse.indices:
                results.append(
                    self.store.search_sparse(
                        self.collection, sparse, limit=self.options.candidates, where=where
                    )
                )
        return results

    def _sparse_pool(self) -> ThreadPoolExecutor:
        """The thread the keyword searches run on (started on first use, once)."""
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sparse-search")
            return self._pool

    # -- lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the keyword-search thread; close the vector store if this retriever opened it."""
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> "ContextRetriever":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _where(filters: QueryFilters) -> Where | None:
    where: Where = {}
    if filters.authors:
        ids = [a.id for a in filters.authors]
        where["author_id"] = ids[0] if len(ids) == 1 else ids
    if filters.categories:
        values = [c.value for c in filters.categories]
        where["category"] = values[0] if len(values) == 1 else values
    return where or None


def load_authors(settings: Settings) -> list[Author]:
    """The warehouse's users as authors (read-only: nothing is created)."""
    from llm_twin.infrastructure.db.mongo import open_warehouse

    with open_warehouse(settings) as warehouse:
        return [Author(str(user.id), user.full_name) for user in warehouse.users.all()]
