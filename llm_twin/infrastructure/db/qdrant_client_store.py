"""The qdrant-client backend of :class:`~llm_twin.infrastructure.db.vector_store.VectorStore`:
a Qdrant server (``QDRANT_URL``) or qdrant-client's local mode on a folder
(``VECTOR_STORE_BACKEND=local``; filters run in Python)."""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from llm_twin.domain.exceptions import StoreUnavailable
from llm_twin.domain.vectors import PayloadRange, PointId, ScoredPoint, SparseVector, VectorPoint
from llm_twin.infrastructure.db import vector_store as base
from llm_twin.infrastructure.db.vector_store import DENSE_VECTOR, SPARSE_VECTOR

if TYPE_CHECKING:
    from qdrant_client import QdrantClient, models


class QdrantClientStore(base.VectorStore["models.Filter"]):
    """Collections of points over a ``qdrant_client.QdrantClient``.

    Open it with :func:`open_server_vector_store` or :func:`open_local_vector_store`.

    Args:
        client: An open ``QdrantClient`` (server or local mode).
        holder_file: For local mode, the file naming this process as the holder; removed on
            :meth:`close`.
        payload_indexes: Create payload indexes for filtered fields (a server uses them; local
            mode ignores them, so it skips them).
    """

    def __init__(
        self,
        client: "QdrantClient",
        holder_file: Path | None = None,
        payload_indexes: bool = True,
    ) -> None:
        super().__init__(holder_file)
        self._client = client
        self._payload_indexes = payload_indexes

    # -- collections -------------------------------------------------------------------------
    def collection_exists(self, name: str) -> bool:
        return bool(self._client.collection_exists(name))

    def vector_size(self, name: str) -> int:
        info = self._client.get_collection(name)
        vectors = info.config.params.vectors
        params = vectors[DENSE_VECTOR] if isinstance(vectors, Mapping) else vectors
        return int(params.size)  # type: ignore[union-attr]

    def delete_collection(self, name: str) -> None:
        self._client.delete_collection(name)

    def _create_collection(self, name: str, vector_size: int, sparse: bool) -> None:
        from qdrant_client import models

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
        for field_name in base.INDEXED_PAYLOAD_FIELDS if self._payload_indexes else ():
            self._client.create_payload_index(
                collection_name=name,
                field_name=field_name,
                field_schema=models.PayloadSchemaType.KEYWORD,
            )

    # -- writes ------------------------------------------------------------------------------
    def _write(self, name: str, points: Sequence[VectorPoint]) -> None:
        from qdrant_client import models

        structs = []
        for point in points:
            vectors: dict[str, list[float] | models.SparseVector] = {
                DENSE_VECTOR: list(point.vector)
            }
            if point.sparse is not None:
                vectors[SPARSE_VECTOR] = _sparse(point.sparse)
            structs.append(
                models.PointStruct(id=str(point.id), vector=vectors, payload=point.payload)
            )
        self._client.upsert(collection_name=name, points=structs, wait=True)

    def _delete_matching(self, name: str, native: "models.Filter") -> None:
        from qdrant_client import models

        self._client.delete(
            collection_name=name, points_selector=models.FilterSelector(filter=native), wait=True
        )

    def _delete_ids(self, name: str, ids: Sequence[PointId]) -> None:
        from qdrant_client import models

        self._client.delete(
            collection_name=name,
            points_selector=models.PointIdsList(points=[str(i) for i in ids]),
            wait=True,
        )

    # -- reads -------------------------------------------------------------------------------
    def _nearest(self, name: str, request: "base.Nearest[models.Filter]") -> list[ScoredPoint]:
        query = request.query
        response = self._client.query_points(
            collection_name=name,
            query=_sparse(query) if isinstance(query, SparseVector) else query,
            using=request.using,
            query_filter=request.filter,
            limit=request.limit,
            with_payload=True,
        )
        return [ScoredPoint(str(p.id), float(p.score), p.payload or {}) for p in response.points]

    def _scroll_page(
        self, name: str, page: "base.ScrollPage[models.Filter]"
    ) -> tuple[list[ScoredPoint], PointId | None]:
        records, next_offset = self._client.scroll(
            collection_name=name,
            scroll_filter=page.filter,
            limit=page.limit,
            offset=page.offset,
            with_payload=True,
            with_vectors=page.with_vectors,
        )
        points = []
        for record in records:
            vector = record.vector.get(DENSE_VECTOR) if isinstance(record.vector, dict) else None
            points.append(ScoredPoint(str(record.id), 0.0, record.payload or {}, vector))  # type: ignore[arg-type]
        return points, next_offset  # type: ignore[return-value]

    def _count(self, name: str, native: "models.Filter | None") -> int:
        return int(self._client.count(collection_name=name, count_filter=native, exact=True).count)

    def _build_filter(self, conditions: list[base.Condition]) -> "models.Filter":
        from qdrant_client import models

        must: list[models.Condition] = []
        for key, value in conditions:
            if isinstance(value, PayloadRange):
                must.append(_range_condition(key, value))
                continue
            match = (
                models.MatchAny(any=value)
                if isinstance(value, list)
                else models.MatchValue(value=value)
            )
            must.append(models.FieldCondition(key=key, match=match))
        return models.Filter(must=must)

    # -- lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:
        """Close the client and, in local mode, release the folder."""
        try:
            self._client.close()
        finally:
            self._release_holder()


def _range_condition(key: str, bounds: PayloadRange) -> "models.Condition":
    """``key`` within ``bounds`` (or, where the range includes them, missing)."""
    from qdrant_client import models

    in_range = models.FieldCondition(key=key, range=models.Range(gte=bounds.gte, lte=bounds.lte))
    if not bounds.include_missing:
        return in_range
    missing = models.IsEmptyCondition(is_empty=models.PayloadField(key=key))
    return models.Filter(should=[in_range, missing])


def _sparse(vector: SparseVector) -> "models.SparseVector":
    from qdrant_client import models

    return models.SparseVector(indices=vector.indices, values=vector.values)


def open_local_vector_store(path: Path) -> QdrantClientStore:
    """Open qdrant-client's local-mode store at ``path``, owned by this process until closed.

    Raises:
        StoreLocked: another process holds the folder; the message names it (PID, command).
    """
    client, holder_file = base.claim_folder(path, lambda: _local_client(path))
    return QdrantClientStore(client, holder_file, payload_indexes=False)


def _local_client(path: Path) -> "QdrantClient":
    from qdrant_client import QdrantClient

    try:
        return QdrantClient(path=str(path))
    except RuntimeError as error:
        if "already accessed" not in str(error):
            raise
        raise base.FolderHeld from None


def open_server_vector_store(
    url: str, api_key: str | None = None, timeout: int = 10
) -> QdrantClientStore:
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
    return QdrantClientStore(client)
