"""Incremental sync of the warehouse into the vector store (the feature store).

The raw document's ``content_hash`` decides each document's fate:

- its cleaned copy in the store has the same ``source_hash`` -> skipped (nothing re-embedded);
- different or missing -> cleaned, chunked, embedded; new chunks upserted (deterministic ids),
  chunks of its previous version deleted, then the cleaned copy written *last*, so a crash
  half-way leaves a stale hash and the next run redoes the document;
- gone from the warehouse -> its chunks, then its cleaned copy, deleted.

The batch pipeline (:meth:`FeatureSync.plan` + :meth:`FeatureSync.apply`) and the CDC watcher
(:meth:`FeatureSync.sync_documents` / :meth:`FeatureSync.delete_documents`) share this code.
"""

import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import TypeVar, TypeVarTuple

from loguru import logger
from pydantic import BaseModel, Field

from llm_twin.application.crossposts import is_cross_post
from llm_twin.application.preprocessing.chunking import ChunkingConfig, TokenCounter
from llm_twin.application.preprocessing.handlers import (
    handlers_for,
    registered_categories,
)
from llm_twin.application.preprocessing.private_data import PrivateDataConfig, mask_documents
from llm_twin.application.publication import publication_payload
from llm_twin.domain.documents import ContentDocument
from llm_twin.domain.features import (
    CLEANED_DOCUMENTS_COLLECTION,
    EMBEDDED_CHUNKS_COLLECTION,
    Chunk,
    CleanedDocument,
    chunk_id,
)
from llm_twin.domain.types import DataCategory
from llm_twin.domain.vectors import Embedder, Payload, SparseEncoder, VectorPoint
from llm_twin.infrastructure.db.vector_store import VectorStore
from llm_twin.infrastructure.db.warehouse import Warehouse

#: The stages timed in :attr:`SyncReport.seconds`.
STAGES = (
    "query",
    "clean",
    "chunk",
    "embed_dense",
    "embed_sparse",
    "load",
    "load_wait",
    "delete",
)


class FeatureSyncConfig(BaseModel):
    """What to sync and how to cut it.

    Attributes:
        author_full_names: Only these authors' documents are processed (empty: all authors).
            Documents gone from the warehouse are removed from the store whatever the filter.
        categories: Only these categories (empty: every registered category).
        chunking: Chunk size/overlap per category; categories not named use their handler's
            default.
        batch_documents: Documents cleaned, chunked and embedded together (one encoder call
            per batch: larger batches keep the encoder busier, smaller ones use less memory).
        reindex: Process every document even when its hash is unchanged (after changing the
            chunking settings; an embedder change is noticed without it).
        private_data: Masking of other people's e-mail addresses and phone numbers (on by
            default).
    """

    author_full_names: list[str] = Field(default_factory=list)
    categories: list[DataCategory] = Field(default_factory=list)
    chunking: dict[DataCategory, ChunkingConfig] = Field(default_factory=dict)
    batch_documents: int = Field(default=32, ge=1)
    reindex: bool = False
    private_data: PrivateDataConfig = Field(default_factory=PrivateDataConfig)

    def selected_categories(self) -> list[DataCategory]:
        return list(self.categories) or registered_categories()


class SyncPlan(BaseModel):
    """Which documents a sync will process, skip and delete (ids only: cheap to pass around).

    Attributes:
        process: Document ids to (re)process, per category value.
        skipped: Documents whose stored copy is current, per category value.
        delete: Ids of documents in the store but gone from the warehouse.
    """

    process: dict[str, list[str]] = Field(default_factory=dict)
    skipped: dict[str, int] = Field(default_factory=dict)
    delete: list[str] = Field(default_factory=list)

    @property
    def documents_to_process(self) -> int:
        return sum(len(ids) for ids in self.process.values())

    @property
    def documents_skipped(self) -> int:
        return sum(self.skipped.values())


#: The counters of :meth:`SyncReport.counts` under their own names.
_COUNTERS = (
    "documents_processed",
    "documents_skipped",
    "documents_deleted",
    "chunks_embedded",
    "chunks_deleted",
    "chunks_total",
)
#: Items of a batch; the arguments of a queued write.
Item = TypeVar("Item")
Arguments = TypeVarTuple("Arguments")


class SyncReport(BaseModel):
    """What a sync did.

    Attributes:
        documents_processed: Documents cleaned, chunked and embedded.
        documents_skipped: Documents left alone because their hash was unchanged.
        documents_deleted: Documents removed from the store (gone from the warehouse).
        chunks_embedded: Chunks encoded and written.
        chunks_deleted: Chunks removed (of changed or deleted documents).
        chunks_total: Chunk points in the store afterwards.
        cleaned_total: Cleaned-document points in the store afterwards.
        per_category: ``{category: {"documents": n, "chunks": n}}`` processed.
        seconds: Seconds per stage (see :data:`STAGES`); ``load`` runs on a writer thread
            while the next batch is embedded, ``load_wait`` is the part the run waited for.
    """

    documents_processed: int = 0
    documents_skipped: int = 0
    documents_deleted: int = 0
    chunks_embedded: int = 0
    chunks_deleted: int = 0
    chunks_total: int = 0
    cleaned_total: int = 0
    per_category: dict[str, dict[str, int]] = Field(default_factory=dict)
    seconds: dict[str, float] = Field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))

    def counts(self) -> dict[str, int]:
        """The integer counters, for the run summary."""
        counters = {name: getattr(self, name) for name in _COUNTERS}
        return {**counters, "cleaned_documents_total": self.cleaned_total}


class FeatureSync:
    """Keeps the vector store's cleaned documents and chunks in step with the warehouse.

    Args:
        warehouse: The raw-document warehouse.
        store: The open vector store (the caller closes it).
        embedder: The dense embedder (e.g. sentence-transformers).
        sparse: The sparse encoder (e.g. BM25 weights).
        config: What to sync and how to chunk.
    """

    def __init__(
        self,
        warehouse: Warehouse,
        store: VectorStore,
        embedder: Embedder,
        sparse: SparseEncoder,
        config: FeatureSyncConfig | None = None,
    ) -> None:
        self.warehouse = warehouse
        self.store = store
        self.embedder = embedder
        self.sparse = sparse
        self.config = config or FeatureSyncConfig()
        self._counter: TokenCounter | None = None

    @property
    def counter(self) -> TokenCounter:
        if self._counter is None:
            self._counter = TokenCounter(self.embedder.tokenizer)
        return self._counter

    def ensure_collections(self) -> None:
        """Create both collections if missing (chunks get the sparse index too)."""
        dimension = self.embedder.dimension
        self.store.ensure_collection(EMBEDDED_CHUNKS_COLLECTION, dimension, sparse=True)
        self.store.ensure_collection(CLEANED_DOCUMENTS_COLLECTION, dimension, sparse=False)

    # -- state -----------------------------------------------------------------------------
    def stored_hashes(self, document_ids: Sequence[str] | None = None) -> dict[str, str]:
        """``{document id: source_hash}`` of the cleaned documents in the store; a document
        embedded by another encoder (its ``embedder`` payload is not this embedder's
        :attr:`~llm_twin.domain.vectors.Embedder.identity`) maps to ``""``, i.e. stale, so an
        engine or model change re-embeds the corpus once."""
        where = {"document_id": list(document_ids)} if document_ids is not None else None
        if (document_ids is not None and not document_ids) or not self.store.collection_exists(
            CLEANED_DOCUMENTS_COLLECTION
        ):
            return {}
        identity = self.embedder.identity
        return {
            str(point.payload["document_id"]): str(point.payload.get("source_hash", ""))
            if point.payload.get("embedder") == identity
            else ""
            for point in self.store.scroll(CLEANED_DOCUMENTS_COLLECTION, where=where)
        }

    def chunk_document_ids(self) -> set[str]:
        """Ids of the documents that have chunks in the store."""
        if not self.store.collection_exists(EMBEDDED_CHUNKS_COLLECTION):
            return set()
        return {
            str(point.payload["document_id"])
            for point in self.store.scroll(EMBEDDED_CHUNKS_COLLECTION)
        }

    # -- batch sync ------------------------------------------------------------------------
    def plan(self) -> SyncPlan:
        """Compare warehouse hashes with the store: what to process, skip and delete.

        Reads ids and hashes only (no model is loaded), so a run with nothing to do is cheap.
        """
        stored = self.stored_hashes()
        existing: set[str] = set()
        plan = SyncPlan()
        for category in DataCategory:
            repository = self.warehouse.documents(category)
            existing |= set(repository.hashes())
            if category not in self.config.selected_categories():
                continue
            in_scope: dict[str, str] = {}
            for name in self.config.author_full_names or [None]:
                in_scope |= repository.hashes(author_full_name=name)
            changed = sorted(
                doc_id
                for doc_id, content_hash in in_scope.items()
                if self.config.reindex or stored.get(doc_id) != content_hash
            )
            if changed:
                plan.process[category.value] = changed
            plan.skipped[category.value] = len(in_scope) - len(changed)
        # Chunks without a cleaned copy are leftovers of an interrupted first write.
        orphans = (set(stored) | self.chunk_document_ids()) - existing
        plan.delete = sorted(orphans)
        return plan

    def apply(self, plan: SyncPlan) -> SyncReport:
        """Carry out ``plan``: delete gone documents, then process changed ones in batches."""
        if plan.process or plan.delete:  # else the model need not even load
            self.ensure_collections()
        report = SyncReport(documents_skipped=plan.documents_skipped)
        self.delete_documents(plan.delete, report)
        with _Writer(report) as writer:
            for category_value, ids in plan.process.items():
                category = DataCategory(category_value)
                repository = self.warehouse.documents(category)
                for batch_ids in _batches(ids, self.config.batch_documents):
                    with _timed(report, "query"):
                        documents = repository.get_many(batch_ids)
                    gone = sorted(set(batch_ids) - {str(doc.id) for doc in documents})
                    if gone:
                        writer.submit(self.delete_documents, gone, report)
                    self._process(category, documents, report, writer)
        self._finish(report)
        return report

    def run(self) -> SyncReport:
        """:meth:`plan` then :meth:`apply`."""
        started = time.perf_counter()
        plan = self.plan()
        planning = time.perf_counter() - started
        report = self.apply(plan)
        report.seconds["query"] = round(report.seconds["query"] + planning, 3)
        return report

    # -- per-document updates (CDC) ---------------------------------------------------------
    def sync_documents(
        self, documents: Iterable[ContentDocument], report: SyncReport | None = None
    ) -> SyncReport:
        """Process the given warehouse documents whose stored copy is missing or stale."""
        report = report or SyncReport()
        by_category: dict[DataCategory, list[ContentDocument]] = defaultdict(list)
        for document in documents:
            by_category[type(document).category].append(document)
        stale_by_category = {}
        for category, docs in by_category.items():
            stored = self.stored_hashes([str(doc.id) for doc in docs])
            stale = [doc for doc in docs if stored.get(str(doc.id)) != doc.content_hash]
            report.documents_skipped += len(docs) - len(stale)
            if stale:
                stale_by_category[category] = stale
        if stale_by_category:  # else the model need not even load
            self.ensure_collections()
        with _Writer(report) as writer:
            for category, stale in stale_by_category.items():
                for batch in _batches(stale, self.config.batch_documents):
                    self._process(category, batch, report, writer)
        self._finish(report)
        return report

    def delete_documents(
        self, document_ids: Sequence[str], report: SyncReport | None = None
    ) -> SyncReport:
        """Remove the chunks, then the cleaned copies, of ``document_ids``."""
        report = report or SyncReport()
        if not document_ids or not self.store.collection_exists(CLEANED_DOCUMENTS_COLLECTION):
            return report
        ids = [str(i) for i in document_ids]
        with _timed(report, "delete"):
            doomed = [
                point.id
                for point in self.store.scroll(
                    EMBEDDED_CHUNKS_COLLECTION, where={"document_id": ids}
                )
            ]
            self.store.delete_ids(EMBEDDED_CHUNKS_COLLECTION, doomed)
            self.store.delete_ids(CLEANED_DOCUMENTS_COLLECTION, ids)
        report.documents_deleted += len(ids)
        report.chunks_deleted += len(doomed)
        logger.info(
            "deleted {} documents ({} chunks) gone from the warehouse", len(ids), len(doomed)
        )
        return report

    # -- internals -------------------------------------------------------------------------
    def _process(
        self,
        category: DataCategory,
        documents: Sequence[ContentDocument],
        report: SyncReport,
        writer: "_Writer",
    ) -> None:
        # A cross-post's text is already indexed under its first copy's link.
        documents = [document for document in documents if not is_cross_post(document)]
        if not documents:
            return
        handlers = handlers_for(category)
        with _timed(report, "clean"):
            cleaned = [handlers.cleaner.clean(document) for document in documents]
            cleaned = mask_documents(cleaned, self.config.private_data)
        with _timed(report, "chunk"):
            max_len = self.embedder.max_seq_length
            chunk_config = self.config.chunking.get(category)
            chunks_by_doc = [
                handlers.chunker.chunk(doc, self.counter, max_len, chunk_config) for doc in cleaned
            ]
        chunks = [chunk for doc_chunks in chunks_by_doc for chunk in doc_chunks]
        # Date and tags travel in every payload, so searches filter on them inside the store.
        published = {document.id: publication_payload(document) for document in documents}
        with _timed(report, "embed_dense"):
            dense = handlers.embedder.dense(chunks, self.embedder)
        with _timed(report, "embed_sparse"):
            sparse = handlers.embedder.sparse(chunks, self.sparse)
        points = [
            VectorPoint(
                id=chunk_id(chunk.document_id, chunk.chunk_index, chunk.content),
                vector=vector,
                payload=chunk_payload(chunk) | published[chunk.document_id],
                sparse=keywords,
            )
            for chunk, vector, keywords in zip(chunks, dense, sparse, strict=True)
        ]
        with _timed(report, "embed_dense"):
            documents_points = self._document_points(cleaned, chunks, dense)
        for point in documents_points:
            point.payload.update(published[point.id])
        writer.submit(self._load, documents_points, points, report)
        report.documents_processed += len(documents)
        report.chunks_embedded += len(chunks)
        stats = report.per_category.setdefault(category.value, {"documents": 0, "chunks": 0})
        stats["documents"] += len(documents)
        stats["chunks"] += len(chunks)
        logger.info(
            "{}: processed {} documents into {} chunks", category.value, len(documents), len(chunks)
        )

    def _document_points(
        self,
        cleaned: Sequence[CleanedDocument],
        chunks: Sequence[Chunk],
        dense: Sequence[list[float]],
    ) -> list[VectorPoint]:
        """Cleaned-document points; vector = normalised mean of the document's chunk vectors
        (its centroid: no extra encoder pass, and it covers the whole text, not the first 256
        tokens). A document without text gets the embedding of its title or link."""
        vectors_by_doc: dict[uuid.UUID, list[list[float]]] = defaultdict(list)
        for chunk, vector in zip(chunks, dense, strict=True):
            vectors_by_doc[chunk.document_id].append(vector)
        fallback_texts = [
            doc.title or doc.link for doc in cleaned if not vectors_by_doc.get(doc.document_id)
        ]
        fallback = iter(self.embedder.embed(fallback_texts))
        points = []
        for doc in cleaned:
            vectors = vectors_by_doc.get(doc.document_id)
            vector = mean_direction(vectors) if vectors else next(fallback)
            stamped = doc.model_copy(update={"embedder": self.embedder.identity})
            points.append(
                VectorPoint(id=doc.document_id, vector=vector, payload=cleaned_payload(stamped))
            )
        return points

    def _load(
        self,
        documents: Sequence[VectorPoint],
        chunks: Sequence[VectorPoint],
        report: SyncReport,
    ) -> None:
        """Write one batch: new chunks, then drop the documents' stale chunks, then the cleaned
        copies last (their ``source_hash`` marks the documents as done)."""
        self.store.upsert(EMBEDDED_CHUNKS_COLLECTION, chunks)
        fresh = {str(point.id) for point in chunks}
        doc_ids = [str(point.id) for point in documents]
        stale = [
            point.id
            for point in self.store.scroll(
                EMBEDDED_CHUNKS_COLLECTION, where={"document_id": doc_ids}
            )
            if point.id not in fresh
        ]
        self.store.delete_ids(EMBEDDED_CHUNKS_COLLECTION, stale)
        report.chunks_deleted += len(stale)
        self.store.upsert(CLEANED_DOCUMENTS_COLLECTION, documents)

    def _finish(self, report: SyncReport) -> None:
        report.chunks_total = self.store.count(EMBEDDED_CHUNKS_COLLECTION)
        report.cleaned_total = self.store.count(CLEANED_DOCUMENTS_COLLECTION)
        report.seconds = {stage: round(value, 3) for stage, value in report.seconds.items()}


def chunk_payload(chunk: Chunk) -> Payload:
    """The stored payload of a chunk: its fields as JSON (no ``id``: that is the point id)."""
    return chunk.model_dump(mode="json", exclude={"id"})


def cleaned_payload(document: CleanedDocument) -> Payload:
    """The stored payload of a cleaned document: its fields as JSON."""
    return document.model_dump(mode="json", exclude={"id"})


def mean_direction(vectors: Sequence[Sequence[float]]) -> list[float]:
    """Normalised mean of unit vectors: the document's centroid direction in embedding space."""
    import numpy as np

    mean = np.asarray(vectors, dtype=np.float64).mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return (mean / norm).tolist() if norm > 0 else mean.tolist()


class _Writer:
    """Runs the store writes of each batch on one background thread, in order.

    The embedded store commits every point to SQLite separately (~10-20 ms each here), which
    is I/O that releases the GIL: writing batch N while the encoder embeds batch N+1 hides it.
    Only this thread touches the store while it is open; at most two batches wait, so memory
    stays bounded. The first error of a write is raised in the caller (at the next submit or
    on exit), and nothing further is written after it.

    Args:
        report: Receives the ``load`` seconds (write time, overlapping other stages) and
            ``load_wait`` (time the caller waited for writes: the part not hidden).
    """

    def __init__(self, report: SyncReport, max_pending: int = 2) -> None:
        self.report = report
        self.max_pending = max_pending
        self._executor: ThreadPoolExecutor | None = None
        self._pending: list[Future[None]] = []
        self._failed = False

    def __enter__(self) -> "_Writer":
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="feature-load")
        return self

    def submit(self, function: Callable[[*Arguments], object], *args: *Arguments) -> None:
        """Queue ``function(*args)`` after the writes already queued."""
        assert self._executor is not None, "use _Writer as a context manager"
        self._raise_errors()
        with _timed(self.report, "load_wait"):
            while sum(not future.done() for future in self._pending) >= self.max_pending:
                wait(self._pending, return_when=FIRST_COMPLETED)
        self._raise_errors()
        self._pending.append(self._executor.submit(self._timed_call, function, *args))

    def _timed_call(self, function: Callable[[*Arguments], object], *args: *Arguments) -> None:
        if self._failed:  # an earlier write failed: later batches must not land after it
            return
        try:
            with _timed(self.report, "load"):
                function(*args)
        except BaseException:
            self._failed = True
            raise

    def _raise_errors(self) -> None:
        for future in self._pending:
            if future.done() and future.exception() is not None:
                raise future.exception()  # type: ignore[misc]
        self._pending = [future for future in self._pending if not future.done()]

    def __exit__(self, *exc: object) -> None:
        assert self._executor is not None
        with _timed(self.report, "load_wait"):
            self._executor.shutdown(wait=True)  # every queued write finishes (or fails)
        self._raise_errors()


def _batches(items: Sequence[Item], size: int) -> Iterator[Sequence[Item]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@contextmanager
def _timed(report: SyncReport, stage: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        report.seconds[stage] = report.seconds.get(stage, 0.0) + time.perf_counter() - started
