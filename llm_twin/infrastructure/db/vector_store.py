"""The vector store: a narrow repository over qdrant-client.

Three backends share this interface: a Qdrant server (``QDRANT_URL``), the embedded default
qdrant-edge (:mod:`llm_twin.infrastructure.db.edge_vector_store`, filters inside the engine) and
qdrant-client's local mode on a folder (``VECTOR_STORE_BACKEND=local``; filters in Python).
The embedded folder belongs to one process at a time; a second opener gets
:class:`~llm_twin.domain.exceptions.StoreLocked` naming the holder.
"""

import datetime as dt
import json
import os
import sys
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llm_twin.domain.exceptions import StoreLocked, StoreUnavailable
from llm_twin.settings import Settings, get_settings

#: Payload fields every collection indexes for filtered search.
INDEXED_PAYLOAD_FIELDS = ("author_id", "author_full_name", "category", "document_id", "platform")
DENSE_VECTOR = "dense"
SPARSE_VECTOR = "sparse"
HOLDER_FILE = "holder.json"


@dataclass
class SparseVector:
    """A sparse vector: parallel lists of dimension indices and weights."""

    indices: list[int]
    values: list[float]


@dataclass
class VectorPoint:
    """One point to write: deterministic id, dense vector, optional sparse vector, payload."""

    id: uuid.UUID | str
    vector: Sequence[float]
    payload: dict[str, Any]
    sparse: SparseVector | None = None


@dataclass
class ScoredPoint:
    """One search hit (``score`` is cosine similarity for dense search)."""

    id: str
    score: float
    payload: dict[str, Any] = field(default_factory=dict)
    vector: list[float] | None = None


class VectorStore:
    """Collections of points with payload filters, over a ``qdrant_client.QdrantClient``.

    Args:
        client: An open ``QdrantClient`` (server or local mode).
        holder_file: For the embedded backend, the file naming this process as the holder;
            removed on :meth:`close`.
        payload_indexes: Create payload indexes for filtered fields (a server uses them; local
            mode ignores them, so it skips them).
    """

    def __init__(
        self, client: Any, holder_file: Path | None = None, payload_indexes: bool = True
    ) -> None:
        self._client = client
        self._holder_file = holder_file
        self._payload_indexes = payload_indexes

    # -- collections -------------------------------------------------------------------------
    def ensure_collection(self, name: str, vector_size: int, *, sparse: bool = False) -> bool:
        """Create ``name`` with cosine distance if it does not exist; return True if created.

        An existing collection with another vector size raises ``ValueError`` instead of being
        silently reused or recreated.
        """
        from qdrant_client import models

        if self._client.collection_exists(name):
            existing = self.vector_size(name)
            if existing != vector_size:
                raise ValueError(
                    f"collection {name!r} holds {existing}-d vectors, not {vector_size}-d: "
                    "delete it (or choose another collection) to change the embedder"
                )
            return False
        self._client.create_collection(
            collection_name=name,
            vectors_config={
                DENSE_VECTOR: models.VectorParams(size=vector_size, distance=models.Distance.COSINE)
            },
            sparse_vectors_config=(
                {SPARSE_VECTOR: models.SparseVectorParams(modifier=models.Modifier.IDF)}
                if sparse
                else None
            ),
        )
        for field_name in INDEXED_PAYLOAD_FIELDS if self._payload_indexes else ():
            self._client.create_payload_index(
                collection_name=name,
                field_name=field_name,
                field_schema=models.PayloadSchemaType.KEYWORD,
            )
        return True

    def collection_exists(self, name: str) -> bool:
        return bool(self._client.collection_exists(name))

    def vector_size(self, name: str) -> int:
        info = self._client.get_collection(name)
        vectors = info.config.params.vectors
        params = vectors[DENSE_VECTOR] if isinstance(vectors, Mapping) else vectors
        return int(params.size)

    def delete_collection(self, name: str) -> None:
        self._client.delete_collection(name)

    # -- writes ------------------------------------------------------------------------------
    def upsert(self, name: str, points: Sequence[VectorPoint], batch_size: int = 256) -> int:
        """Write points in batches (same id overwrites); return how many were written."""
        from qdrant_client import models

        for start in range(0, len(points), batch_size):
            batch = points[start : start + batch_size]
            self._client.upsert(
                collection_name=name,
                points=[
                    models.PointStruct(
                        id=str(point.id), vector=_vectors(point), payload=point.payload
                    )
                    for point in batch
                ],
                wait=True,
            )
        return len(points)

    def delete_where(self, name: str, **match: Any) -> None:
        """Delete every point whose payload matches all ``field=value`` pairs."""
        from qdrant_client import models

        if not match:
            raise ValueError("delete_where needs at least one field to match")
        self._client.delete(
            collection_name=name,
            points_selector=models.FilterSelector(filter=_filter(match)),
            wait=True,
        )

    def delete_ids(self, name: str, ids: Sequence[uuid.UUID | str]) -> None:
        from qdrant_client import models

        if ids:
            self._client.delete(
                collection_name=name,
                points_selector=models.PointIdsList(points=[str(i) for i in ids]),
                wait=True,
            )

    # -- reads -------------------------------------------------------------------------------
    def search(
        self,
        name: str,
        vector: Sequence[float],
        *,
        limit: int = 10,
        where: Mapping[str, Any] | None = None,
    ) -> list[ScoredPoint]:
        """Dense nearest neighbours, filtered inside the search by ``where`` (field → value or
        list of accepted values)."""
        response = self._client.query_points(
            collection_name=name,
            query=list(vector),
            using=DENSE_VECTOR,
            query_filter=_filter(where) if where else None,
            limit=limit,
            with_payload=True,
        )
        return [ScoredPoint(str(p.id), float(p.score), p.payload or {}) for p in response.points]

    def search_sparse(
        self,
        name: str,
        vector: SparseVector,
        *,
        limit: int = 10,
        where: Mapping[str, Any] | None = None,
    ) -> list[ScoredPoint]:
        """Sparse (keyword) search on a collection created with ``sparse=True``."""
        from qdrant_client import models

        response = self._client.query_points(
            collection_name=name,
            query=models.SparseVector(indices=vector.indices, values=vector.values),
            using=SPARSE_VECTOR,
            query_filter=_filter(where) if where else None,
            limit=limit,
            with_payload=True,
        )
        return [ScoredPoint(str(p.id), float(p.score), p.payload or {}) for p in response.points]

    def scroll(
        self,
        name: str,
        *,
        where: Mapping[str, Any] | None = None,
        with_vectors: bool = False,
        batch_size: int = 256,
    ) -> Iterator[ScoredPoint]:
        """Every point matching ``where``, in id order."""
        offset = None
        while True:
            points, offset = self._client.scroll(
                collection_name=name,
                scroll_filter=_filter(where) if where else None,
                limit=batch_size,
                offset=offset,
                with_payload=True,
                with_vectors=with_vectors,
            )
            for point in points:
                vector = point.vector.get(DENSE_VECTOR) if isinstance(point.vector, dict) else None
                yield ScoredPoint(str(point.id), 0.0, point.payload or {}, vector)
            if offset is None:
                return

    def count(self, name: str, *, where: Mapping[str, Any] | None = None) -> int:
        if not self._client.collection_exists(name):
            return 0
        result = self._client.count(
            collection_name=name, count_filter=_filter(where) if where else None, exact=True
        )
        return int(result.count)

    # -- lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:
        """Close the client and, for the embedded backend, release the folder."""
        try:
            self._client.close()
        finally:
            if self._holder_file is not None:
                self._holder_file.unlink(missing_ok=True)

    def __enter__(self) -> "VectorStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _vectors(point: VectorPoint) -> dict[str, Any]:
    from qdrant_client import models

    vectors: dict[str, Any] = {DENSE_VECTOR: list(point.vector)}
    if point.sparse is not None:
        vectors[SPARSE_VECTOR] = models.SparseVector(
            indices=point.sparse.indices, values=point.sparse.values
        )
    return vectors


def _filter(match: Mapping[str, Any]) -> Any:
    from qdrant_client import models

    conditions: list[Any] = []
    for key, value in match.items():
        if isinstance(value, dict):  # a range: {"gte", "lte", "include_missing"}
            bounds = models.Range(gte=value.get("gte"), lte=value.get("lte"))
            in_range = models.FieldCondition(key=key, range=bounds)
            if value.get("include_missing"):
                missing = models.IsEmptyCondition(is_empty=models.PayloadField(key=key))
                conditions.append(models.Filter(should=[in_range, missing]))
            else:
                conditions.append(in_range)
        elif isinstance(value, list | tuple | set | frozenset):
            accepted = [str(v) for v in value]
            conditions.append(models.FieldCondition(key=key, match=models.MatchAny(any=accepted)))
        else:
            conditions.append(
                models.FieldCondition(key=key, match=models.MatchValue(value=str(value)))
            )
    return models.Filter(must=conditions)


def open_embedded_vector_store(path: Path) -> VectorStore:
    """Open the embedded (local-mode) store at ``path``, owned by this process until closed.

    Raises:
        StoreLocked: another process holds the folder; the message names it (PID, command).
    """
    from qdrant_client import QdrantClient

    path.mkdir(parents=True, exist_ok=True)
    holder_file = path / HOLDER_FILE
    try:
        client = QdrantClient(path=str(path))
    except RuntimeError as error:
        if "already accessed" not in str(error):
            raise
        raise store_locked(path) from None
    write_holder(holder_file)
    return VectorStore(client, holder_file, payload_indexes=False)


def store_locked(path: Path) -> StoreLocked:
    """The error for an embedded store folder held by another process, naming that process."""
    return StoreLocked(
        f"the embedded vector store at {path} is in use by "
        f"{_describe_holder(path / HOLDER_FILE)}. Only one process may open it at a time: stop "
        "that process (e.g. the inference service) or point QDRANT_URL at a Qdrant server for "
        "concurrent access."
    )


def write_holder(holder_file: Path) -> None:
    """Name this process (PID, command, since when) as the holder of an embedded store."""
    holder = {
        "pid": os.getpid(),
        "command": " ".join(sys.argv) or sys.executable,
        "since": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    holder_file.write_text(json.dumps(holder))


def _describe_holder(holder_file: Path) -> str:
    try:
        holder = json.loads(holder_file.read_text())
        return f"process {holder['pid']} ({holder['command']}, since {holder['since']})"
    except (OSError, ValueError, KeyError):
        return "another process"


def open_server_vector_store(
    url: str, api_key: str | None = None, timeout: int = 10
) -> VectorStore:
    """Connect to a Qdrant server and check it answers.

    Raises:
        StoreUnavailable: the server does not answer.
    """
    from qdrant_client import QdrantClient

    client = QdrantClient(url=url, api_key=api_key, timeout=timeout)
    try:
        client.get_collections()
    except Exception as error:  # the client raises several transport error types
        client.close()
        raise StoreUnavailable(
            f"Qdrant server at {url} is unreachable: {type(error).__name__}"
        ) from None
    return VectorStore(client)


def open_vector_store(settings: Settings | None = None) -> VectorStore:
    """Open the vector store the settings name: a Qdrant server when ``QDRANT_URL`` is set,
    else the embedded store chosen by ``VECTOR_STORE_BACKEND`` (``edge``: qdrant-edge, the
    default; ``local``: qdrant-client's local mode). Close it (or use ``with``) when done."""
    settings = settings or get_settings()
    if settings.uses_embedded_qdrant:
        if settings.VECTOR_STORE_BACKEND == "edge":
            from llm_twin.infrastructure.db.edge_vector_store import open_edge_vector_store

            return open_edge_vector_store(settings.edge_store_path)
        return open_embedded_vector_store(settings.qdrant_path)
    api_key = settings.QDRANT_API_KEY.get_secret_value() if settings.QDRANT_API_KEY else None
    return open_server_vector_store(settings.QDRANT_URL, api_key)  # type: ignore[arg-type]
