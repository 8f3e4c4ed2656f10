"""The embedded vector store on qdrant-edge: Qdrant's Rust engine inside this process.

A sibling of the qdrant-client backend under
:class:`~llm_twin.infrastructure.db.vector_store.VectorStore`, so the feature pipeline and
retrieval do not know which backend they use. Each collection is one ``EdgeShard`` in its own
sub-folder of the store folder. Unlike qdrant-client's local mode,
filters run inside the engine on payload indexes, so a filtered search over 10k chunks takes well
under a millisecond instead of ~100 ms.

The folder belongs to one process at a time (an OS file lock, released even if the process
dies); a second opener gets :class:`~llm_twin.domain.exceptions.StoreLocked` naming the holder.
"""

import fcntl
import itertools
import json
import re
import shutil
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypedDict

from llm_twin.domain.exceptions import StoreUnavailable
from llm_twin.domain.vectors import PayloadRange, PointId, ScoredPoint, SparseVector, VectorPoint
from llm_twin.infrastructure.db.vector_store import (
    DENSE_VECTOR,
    INDEXED_PAYLOAD_FIELDS,
    SPARSE_VECTOR,
    Condition,
    FolderHeld,
    Nearest,
    ScrollPage,
    VectorStore,
    claim_folder,
)

if TYPE_CHECKING:
    import qdrant_edge

LOCK_FILE = ".lock"
COLLECTION_FILE = "collection.json"
#: Payloads kept in memory per collection (see ``EdgeVectorStore._nearest``): the sample
#: corpus has ~1.2k chunks, a large author ~10k; at ~3 KB each this bounds it to ~60 MB.
PAYLOAD_CACHE_SIZE = 20_000
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


class _CollectionMeta(TypedDict):
    """The ``collection.json`` of a complete collection."""

    vector_size: int
    sparse: bool


class EdgeVectorStore(VectorStore["qdrant_edge.Filter"]):
    """Collections as qdrant-edge shards under one folder, owned by this process until closed.

    Open it with :func:`open_edge_vector_store`. Keyword payload indexes on
    :data:`~llm_twin.infrastructure.db.vector_store.INDEXED_PAYLOAD_FIELDS` serve the filters.
    Reads of a missing collection find nothing.

    Args:
        path: The store folder (one sub-folder per collection).
        lock_handle: The open, exclusively locked lock file; released on :meth:`close`.
        holder_file: The file naming this process as the holder; removed on :meth:`close`.
    """

    def __init__(self, path: Path, lock_handle: IO[str], holder_file: Path) -> None:
        super().__init__(holder_file)
        self.path = path
        self._lock_handle: IO[str] | None = lock_handle
        self._shards: dict[str, qdrant_edge.EdgeShard] = {}
        # Only this process reads or writes the folder (it holds the lock), so what it read
        # stays true until it writes: the metadata of existing collections, and the payloads
        # of points found by searches (cleared by every write to the collection).
        self._metas: dict[str, _CollectionMeta] = {}
        self._payloads: dict[str, dict[str, dict[str, Any]]] = {}
        # The shard handles are shared by every thread of the process (e.g. an API server);
        # one lock keeps opening, writing and closing them consistent.
        self._mutex = threading.RLock()

    # -- collections -------------------------------------------------------------------------
    def _collection_dir(self, name: str) -> Path:
        if not _NAME.match(name):
            raise ValueError(
                f"invalid collection name {name!r}: use letters, digits, '_', '-' or '.'"
            )
        return self.path / name

    def _meta(self, name: str) -> _CollectionMeta | None:
        meta = self._metas.get(name)
        if meta is not None:
            return meta
        meta_file = self._collection_dir(name) / COLLECTION_FILE
        if not meta_file.is_file():
            return None
        meta = json.loads(meta_file.read_text())
        self._metas[name] = meta
        return meta

    def _shard(self, name: str) -> "qdrant_edge.EdgeShard":
        """The open shard of collection ``name``; ``KeyError`` if it does not exist."""
        with self._exclusive():
            shard = self._shards.get(name)
            if shard is not None:
                return shard
            if self._meta(name) is None:
                raise KeyError(f"collection {name!r} does not exist in {self.path}")
            from qdrant_edge import EdgeShard

            shard = EdgeShard.load(str(self._collection_dir(name) / "shard"))
            self._shards[name] = shard
            return shard

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Hold the mutex of the open store (``StoreUnavailable`` once closed)."""
        with self._mutex:
            if self._lock_handle is None:
                raise StoreUnavailable(f"the vector store at {self.path} is closed")
            yield

    def _create_collection(self, name: str, vector_size: int, sparse: bool) -> None:
        from qdrant_edge import (
            Distance,
            EdgeConfig,
            EdgeShard,
            EdgeSparseVectorParams,
            EdgeVectorParams,
            Modifier,
            PayloadSchemaType,
            UpdateOperation,
        )

        folder = self._collection_dir(name)
        # A folder without its metadata file is a creation that crashed half-way.
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        config = EdgeConfig(
            vectors={DENSE_VECTOR: EdgeVectorParams(size=vector_size, distance=Distance.Cosine)},
            sparse_vectors=(
                {SPARSE_VECTOR: EdgeSparseVectorParams(modifier=Modifier.Idf)} if sparse else None
            ),
        )
        shard = EdgeShard.create(str(folder / "shard"), config)
        for field_name in INDEXED_PAYLOAD_FIELDS:
            shard.update(UpdateOperation.create_field_index(field_name, PayloadSchemaType.Keyword))
        shard.flush()
        # Written last: its presence marks the collection as complete.
        meta: _CollectionMeta = {"vector_size": vector_size, "sparse": sparse}
        (folder / COLLECTION_FILE).write_text(json.dumps(meta))
        self._shards[name] = shard
        self._metas[name] = meta

    def collection_exists(self, name: str) -> bool:
        return self._meta(name) is not None

    def vector_size(self, name: str) -> int:
        meta = self._meta(name)
        if meta is None:
            raise KeyError(f"collection {name!r} does not exist in {self.path}")
        return int(meta["vector_size"])

    def delete_collection(self, name: str) -> None:
        with self._exclusive():
            shard = self._shards.pop(name, None)
            self._metas.pop(name, None)
            self._payloads.pop(name, None)
            if shard is not None:
                shard.close()
            shutil.rmtree(self._collection_dir(name), ignore_errors=True)

    # -- writes ------------------------------------------------------------------------------
    def _write(self, name: str, points: Sequence[VectorPoint]) -> None:
        from qdrant_edge import Point, UpdateOperation

        shard = self._shard(name)
        sparse_enabled = bool(self._meta(name)["sparse"])  # type: ignore[index]
        batch = []
        for point in points:
            vectors: dict[str, list[float] | qdrant_edge.SparseVector] = {
                DENSE_VECTOR: [float(x) for x in point.vector]
            }
            if point.sparse is not None and sparse_enabled:
                vectors[SPARSE_VECTOR] = _sparse(point.sparse)
            batch.append(Point(_point_id(point.id), vectors, point.payload))
        with self._mutex:
            self._payloads.pop(name, None)
            shard.update(UpdateOperation.upsert_points(batch))

    def _flush(self, name: str) -> None:
        shard = self._shard(name)
        with self._mutex:
            shard.flush()

    def _delete_matching(self, name: str, native: "qdrant_edge.Filter") -> None:
        from qdrant_edge import UpdateOperation

        if not self.collection_exists(name):
            return
        shard = self._shard(name)
        with self._mutex:
            self._payloads.pop(name, None)
            shard.update(UpdateOperation.delete_points_by_filter(native))
            shard.flush()

    def _delete_ids(self, name: str, ids: Sequence[PointId]) -> None:
        from qdrant_edge import UpdateOperation

        if not self.collection_exists(name):
            return
        shard = self._shard(name)
        with self._mutex:
            self._payloads.pop(name, None)
            shard.update(UpdateOperation.delete_points([_point_id(i) for i in ids]))
            shard.flush()

    # -- reads -------------------------------------------------------------------------------
    def _nearest(self, name: str, request: "Nearest[qdrant_edge.Filter]") -> list[ScoredPoint]:
        from qdrant_edge import Query, QueryRequest

        if not self.collection_exists(name):
            return []
        query = request.query
        vector = _sparse(query) if isinstance(query, SparseVector) else query
        shard = self._shard(name)
        # Reads hold the mutex too: the service writes points ingested through it (see
        # remote_vector_store) while it searches.
        with self._mutex:
            # The engine finds 50 ids in ~0.2 ms but takes ~1 ms more to hand over their
            # payloads, whatever their size; a search repeats most of the previous ones'.
            hits = shard.query(
                QueryRequest(
                    limit=request.limit,
                    query=Query.Nearest(vector, using=request.using),
                    filter=request.filter,
                    with_payload=False,
                )
            )
            ids = [str(hit.id) for hit in hits]
            payloads = self._cached_payloads(name, shard, ids)
        return [
            ScoredPoint(point_id, float(hit.score), dict(payloads[point_id]))
            for point_id, hit in zip(ids, hits, strict=True)
        ]

    def _cached_payloads(
        self, name: str, shard: "qdrant_edge.EdgeShard", ids: list[str]
    ) -> dict[str, dict[str, Any]]:
        """The payloads of ``ids`` (which exist), read from the shard only for the ids not
        cached yet; the oldest entries go beyond :data:`PAYLOAD_CACHE_SIZE`."""
        cache = self._payloads.setdefault(name, {})
        missing = [point_id for point_id in ids if point_id not in cache]
        if missing:
            records = shard.retrieve([_point_id(i) for i in missing], True, False)
            for record in records:
                cache[str(record.id)] = record.payload or {}
        found = {point_id: cache.get(point_id, {}) for point_id in ids}
        for stale in list(cache)[: max(0, len(cache) - PAYLOAD_CACHE_SIZE)]:
            del cache[stale]
        return found

    def preload(self, name: str) -> None:
        """Cache the payloads of ``name`` (up to :data:`PAYLOAD_CACHE_SIZE`): ~70 ms for the
        sample's 1.2k chunks, instead of ~1 ms more in each of the first searches."""
        if not self.collection_exists(name) or name in self._payloads:
            return  # preloaded, or searched since the last write
        cache = self._payloads.setdefault(name, {})
        for point in itertools.islice(self.scroll(name, batch_size=1024), PAYLOAD_CACHE_SIZE):
            cache[point.id] = point.payload

    def _scroll_page(
        self, name: str, page: "ScrollPage[qdrant_edge.Filter]"
    ) -> tuple[list[ScoredPoint], PointId | None]:
        from qdrant_edge import ScrollRequest

        if not self.collection_exists(name):
            return [], None
        shard = self._shard(name)
        with self._mutex:
            records, next_offset = shard.scroll(
                ScrollRequest(
                    offset=page.offset,
                    limit=page.limit,
                    filter=page.filter,
                    with_payload=True,
                    with_vector=[DENSE_VECTOR] if page.with_vectors else False,
                )
            )
        points = []
        for record in records:
            vector = None
            if page.with_vectors and isinstance(record.vector, dict):
                dense = record.vector.get(DENSE_VECTOR)
                vector = [float(x) for x in dense] if dense is not None else None
            points.append(ScoredPoint(str(record.id), 0.0, record.payload or {}, vector))
        return points, next_offset

    def _count(self, name: str, native: "qdrant_edge.Filter | None") -> int:
        from qdrant_edge import CountRequest

        shard = self._shard(name)
        with self._mutex:
            return int(shard.count(CountRequest(exact=True, filter=native)))

    def _build_filter(self, conditions: list[Condition]) -> "qdrant_edge.Filter":
        from qdrant_edge import FieldCondition, Filter, MatchAny, MatchValue

        must: list[qdrant_edge.FieldCondition | qdrant_edge.Filter] = []
        for key, value in conditions:
            if isinstance(value, PayloadRange):
                must.append(_range_condition(key, value))
            else:
                match = MatchAny(any=value) if isinstance(value, list) else MatchValue(value)
                must.append(FieldCondition(key=key, match=match))
        return Filter(must=must)

    # -- lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:
        """Flush and close every shard, then release the folder."""
        with self._mutex:
            if self._lock_handle is None:
                return
            try:
                for shard in self._shards.values():
                    shard.flush()
                    shard.close()
            finally:
                self._shards.clear()
                self._release_holder()
                fcntl.flock(self._lock_handle, fcntl.LOCK_UN)
                self._lock_handle.close()
                self._lock_handle = None


def _range_condition(
    key: str, bounds: PayloadRange
) -> "qdrant_edge.FieldCondition | qdrant_edge.Filter":
    """``key`` within ``bounds`` (or, where the range includes them, missing)."""
    from qdrant_edge import FieldCondition, Filter, IsEmptyCondition, RangeFloat

    in_range = FieldCondition(key=key, range=RangeFloat(gte=bounds.gte, lte=bounds.lte))
    if not bounds.include_missing:
        return in_range
    return Filter(should=[in_range, IsEmptyCondition(key)])


def _sparse(vector: SparseVector) -> "qdrant_edge.SparseVector":
    from qdrant_edge import SparseVector as EdgeSparseVector

    return EdgeSparseVector(indices=list(vector.indices), values=list(vector.values))


def _point_id(value: PointId) -> uuid.UUID:
    """Qdrant point ids are UUIDs (or integers); this project always uses UUIDs."""
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise ValueError(f"point id {value!r} is not a UUID") from None


def open_edge_vector_store(path: Path) -> EdgeVectorStore:
    """Open the qdrant-edge store at ``path``, owned by this process until closed.

    Raises:
        StoreLocked: another process (or another open store in this process) holds the
            folder; the message names it (PID, command, since when).
    """
    handle, holder_file = claim_folder(path, lambda: _lock(path / LOCK_FILE))
    return EdgeVectorStore(path, handle, holder_file)


def _lock(lock_file: Path) -> IO[str]:
    """The lock file, opened and exclusively locked (an OS lock: released if the process dies)."""
    handle = lock_file.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise FolderHeld from None
    return handle
