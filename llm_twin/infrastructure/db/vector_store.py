"""The vector store: one abstract repository of point collections, and the factory that opens
the backend the settings name.

The backends share :class:`VectorStore`, side by side:

- qdrant-edge (:mod:`~llm_twin.infrastructure.db.edge_vector_store`), the embedded default:
  Qdrant's Rust engine in this process, filters inside the engine;
- qdrant-client (:mod:`~llm_twin.infrastructure.db.qdrant_client_store`) on a Qdrant server
  (``QDRANT_URL``) or in local mode on a folder (``VECTOR_STORE_BACKEND=local``; filters in
  Python);
- the remote store (:mod:`~llm_twin.infrastructure.db.remote_vector_store`): an embedded folder
  held by the running inference service, reached through the service.

The base class holds what every backend shares (argument checks, batching, the filter's
meaning, the size check, the holder file of an embedded folder); a backend implements the
primitives. An embedded folder belongs to one process at a time; a second opener gets
:class:`~llm_twin.domain.exceptions.StoreLocked` naming the holder, unless the holder is the
inference service advertising its internal vector-store endpoint in the holder file: then the
opener gets a :class:`~llm_twin.infrastructure.db.remote_vector_store.RemoteVectorStore` that
reads and writes through the running service (see :func:`open_vector_store`).
"""

import abc
import datetime as dt
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from llm_twin.domain.exceptions import StoreLocked
from llm_twin.domain.vectors import (
    FilterScalar,
    PayloadFilter,
    PayloadRange,
    PointId,
    ScoredPoint,
    SparseVector,
    VectorPoint,
)
from llm_twin.settings import Settings, get_settings

#: Payload fields every collection indexes for filtered search.
INDEXED_PAYLOAD_FIELDS = ("author_id", "author_full_name", "category", "document_id", "platform")
DENSE_VECTOR = "dense"
SPARSE_VECTOR = "sparse"
HOLDER_FILE = "holder.json"
#: The secret a serving process writes (mode 0600) beside its holder file.
SERVICE_TOKEN_FILE = "service.token"
#: The holder file's entry where a serving process advertises its internal endpoint.
SERVICE_ENTRY = "service"

#: A filter condition in backend-neutral form: field and its accepted value(s) as strings, or
#: the numeric range it must fall in.
Condition = tuple[str, str | list[str] | PayloadRange]
#: A backend's native filter object (a qdrant-client or a qdrant-edge ``Filter``).
NativeFilter = TypeVar("NativeFilter")
#: What an embedded backend takes hold of its folder with (a client, a locked file).
Taken = TypeVar("Taken")


@dataclass(frozen=True)
class Nearest(Generic[NativeFilter]):
    """A nearest-neighbour query of one named vector, in a backend's filter."""

    using: str
    query: list[float] | SparseVector
    limit: int
    filter: NativeFilter | None


@dataclass(frozen=True)
class ScrollPage(Generic[NativeFilter]):
    """One page of a scroll, in a backend's filter."""

    filter: NativeFilter | None
    limit: int
    offset: PointId | None
    with_vectors: bool


class VectorStore(abc.ABC, Generic[NativeFilter]):
    """Collections of points (a cosine dense vector named ``dense``, optionally an IDF-weighted
    sparse vector named ``sparse``, a JSON payload) with payload filters.

    ``where`` arguments map a payload field to a value, to a collection of accepted values or
    to a :class:`~llm_twin.domain.vectors.PayloadRange`; every field must match. Use the store
    as a context manager (or call :meth:`close`).

    Args:
        holder_file: For an embedded backend, the file naming this process as the holder of
            the folder; removed on :meth:`close`.
    """

    def __init__(self, holder_file: Path | None = None) -> None:
        self._holder_file = holder_file

    # -- collections -------------------------------------------------------------------------
    def ensure_collection(self, name: str, vector_size: int, *, sparse: bool = False) -> bool:
        """Create ``name`` (cosine distance; a sparse index too with ``sparse``) if it does not
        exist; return True if created.

        An existing collection with another vector size raises ``ValueError`` instead of being
        silently reused or recreated.
        """
        with self._exclusive():
            if self.collection_exists(name):
                existing = self.vector_size(name)
                if existing != vector_size:
                    raise ValueError(
                        f"collection {name!r} holds {existing}-d vectors, not {vector_size}-d: "
                        "delete it (or choose another collection) to change the embedder"
                    )
                return False
            self._create_collection(name, vector_size, sparse)
            return True

    @abc.abstractmethod
    def collection_exists(self, name: str) -> bool:
        """True if collection ``name`` exists."""

    @abc.abstractmethod
    def vector_size(self, name: str) -> int:
        """Dense vector length of collection ``name``."""

    @abc.abstractmethod
    def delete_collection(self, name: str) -> None:
        """Delete collection ``name`` and its points."""

    # -- writes ------------------------------------------------------------------------------
    def upsert(self, name: str, points: Sequence[VectorPoint], batch_size: int = 256) -> int:
        """Write points in batches (same id overwrites); return how many were written."""
        for start in range(0, len(points), batch_size):
            self._write(name, points[start : start + batch_size])
        self._flush(name)
        return len(points)

    def delete_where(self, name: str, **match: FilterScalar) -> None:
        """Delete every point whose payload matches all ``field=value`` pairs."""
        if not match:
            raise ValueError("delete_where needs at least one field to match")
        self._delete_matching(name, self._build_filter(filter_conditions(match)))

    def delete_ids(self, name: str, ids: Sequence[PointId]) -> None:
        """Delete the points with these ids (ids not stored are ignored)."""
        if ids:
            self._delete_ids(name, ids)

    # -- reads -------------------------------------------------------------------------------
    def search(
        self,
        name: str,
        vector: Sequence[float],
        *,
        limit: int = 10,
        where: PayloadFilter | None = None,
    ) -> list[ScoredPoint]:
        """Dense nearest neighbours, filtered inside the search by ``where``."""
        dense = [float(x) for x in vector]
        request = Nearest(DENSE_VECTOR, dense, limit, self._native_filter(where))
        return self._nearest(name, request)

    def search_sparse(
        self,
        name: str,
        vector: SparseVector,
        *,
        limit: int = 10,
        where: PayloadFilter | None = None,
    ) -> list[ScoredPoint]:
        """Sparse (keyword) search on a collection created with ``sparse=True``; a vector
        without terms finds nothing."""
        if not vector.indices:
            return []
        return self._nearest(
            name, Nearest(SPARSE_VECTOR, vector, limit, self._native_filter(where))
        )

    def scroll(
        self,
        name: str,
        *,
        where: PayloadFilter | None = None,
        with_vectors: bool = False,
        batch_size: int = 256,
    ) -> Iterator[ScoredPoint]:
        """Every point matching ``where``, in id order (score 0; the dense vector with
        ``with_vectors``)."""
        native = self._native_filter(where)
        offset: PointId | None = None
        while True:
            page = ScrollPage(native, batch_size, offset, with_vectors)
            points, offset = self._scroll_page(name, page)
            yield from points
            if offset is None:
                return

    def scroll_page(
        self,
        name: str,
        *,
        where: PayloadFilter | None = None,
        limit: int = 256,
        offset: PointId | None = None,
        with_vectors: bool = False,
    ) -> tuple[list[ScoredPoint], PointId | None]:
        """One page of :meth:`scroll`: up to ``limit`` points from ``offset`` on, and the next
        page's offset (None: this was the last page)."""
        return self._scroll_page(
            name, ScrollPage(self._native_filter(where), limit, offset, with_vectors)
        )

    def preload(self, name: str) -> None:
        """Read into memory now what searches of ``name`` would read on first use, where the
        backend keeps it (the embedded backend keeps payloads), so that the first searches
        are as fast as the later ones. Backends that keep nothing do nothing."""

    def count(self, name: str, *, where: PayloadFilter | None = None) -> int:
        """Points matching ``where`` (0 for a missing collection)."""
        if not self.collection_exists(name):
            return 0
        return self._count(name, self._native_filter(where))

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def holder_file(self) -> Path | None:
        """The file naming this process as the holder of an embedded folder (None for a
        server or a remote store)."""
        return self._holder_file

    @abc.abstractmethod
    def close(self) -> None:
        """Release the backend (and, for an embedded one, the folder)."""

    def _release_holder(self) -> None:
        if self._holder_file is not None:
            self._holder_file.unlink(missing_ok=True)
            (self._holder_file.parent / SERVICE_TOKEN_FILE).unlink(missing_ok=True)

    def __enter__(self) -> "VectorStore[NativeFilter]":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- primitives of a backend -------------------------------------------------------------
    def _exclusive(self) -> AbstractContextManager[object]:
        """Held while a collection is checked and created (a backend shared by threads locks)."""
        return nullcontext()

    def _native_filter(self, where: PayloadFilter | None) -> NativeFilter | None:
        return self._build_filter(filter_conditions(where)) if where else None

    @abc.abstractmethod
    def _build_filter(self, conditions: list[Condition]) -> NativeFilter:
        """The backend's all-must filter of ``conditions`` (list value: any of them; a range:
        within its bounds, or missing where the range includes missing values)."""

    @abc.abstractmethod
    def _create_collection(self, name: str, vector_size: int, sparse: bool) -> None:
        """Create the (missing) collection with keyword indexes on the indexed fields."""

    @abc.abstractmethod
    def _write(self, name: str, points: Sequence[VectorPoint]) -> None:
        """Upsert one batch."""

    def _flush(self, name: str) -> None:
        """Make the batches written by :meth:`upsert` durable (a no-op where writes are)."""

    @abc.abstractmethod
    def _delete_matching(self, name: str, native: NativeFilter) -> None:
        """Delete the points matching a (non-empty) filter."""

    @abc.abstractmethod
    def _delete_ids(self, name: str, ids: Sequence[PointId]) -> None:
        """Delete a non-empty list of ids."""

    @abc.abstractmethod
    def _nearest(self, name: str, request: Nearest[NativeFilter]) -> list[ScoredPoint]:
        """The ``request.limit`` best hits of the named vector ``request.using``."""

    @abc.abstractmethod
    def _scroll_page(
        self, name: str, page: ScrollPage[NativeFilter]
    ) -> tuple[list[ScoredPoint], PointId | None]:
        """One page of points and the next page's offset (None: this was the last)."""

    @abc.abstractmethod
    def _count(self, name: str, native: NativeFilter | None) -> int:
        """Exact count of an existing collection's matching points."""


def filter_conditions(where: PayloadFilter) -> list[Condition]:
    """``where`` as conditions: each value compared as a string, a collection (list, tuple,
    set) as its accepted values, a range kept as it is."""
    conditions: list[Condition] = []
    for key, value in where.items():
        if isinstance(value, PayloadRange):
            conditions.append((key, value))
        elif isinstance(value, list | tuple | set | frozenset):
            conditions.append((key, [str(v) for v in value]))
        else:
            conditions.append((key, str(value)))
    return conditions


# -- the folder of an embedded backend -------------------------------------------------------
class FolderHeld(Exception):
    """Raised by a backend's ``take`` when another opener holds the folder."""


def claim_folder(path: Path, take: Callable[[], Taken]) -> tuple[Taken, Path]:
    """Create ``path``, take hold of it with ``take`` and name this process as its holder.

    Args:
        path: The embedded store's folder.
        take: Opens the backend on the folder; raises :class:`FolderHeld` if another opener
            holds it.

    Returns:
        What ``take`` returned, and the holder file (to remove when the store is closed).

    Raises:
        StoreLocked: another process (or another open store in this process) holds the
            folder; the message names it (PID, command, since when).
    """
    path.mkdir(parents=True, exist_ok=True)
    try:
        taken = take()
    except FolderHeld:
        raise store_locked(path) from None
    holder_file = path / HOLDER_FILE
    write_holder(holder_file)
    return taken, holder_file


def store_locked(path: Path) -> StoreLocked:
    """The error for an embedded store folder held by another process, naming that process."""
    return StoreLocked(
        f"the embedded vector store at {path} is in use by "
        f"{_describe_holder(path / HOLDER_FILE)}. Only one process may open it at a time: stop "
        "that process (e.g. the inference service) or point QDRANT_URL at a Qdrant server for "
        "concurrent access."
    )


def write_holder(holder_file: Path, service: dict[str, object] | None = None) -> None:
    """Name this process (PID, command, since when) as the holder of an embedded store.

    Args:
        holder_file: The folder's holder file.
        service: Where this process serves the store to others (its internal endpoint's URL
            and request-body limit), if it does.
    """
    holder: dict[str, object] = {
        "pid": os.getpid(),
        "command": " ".join(sys.argv) or sys.executable,
        "since": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    if service is not None:
        holder[SERVICE_ENTRY] = service
    temporary = holder_file.with_name(holder_file.name + ".tmp")
    temporary.write_text(json.dumps(holder))
    os.replace(temporary, holder_file)


def read_holder(path: Path) -> dict[str, object] | None:
    """The holder record of the embedded folder ``path`` (None when absent or unreadable)."""
    try:
        holder = json.loads((path / HOLDER_FILE).read_text())
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) else None


def _describe_holder(holder_file: Path) -> str:
    holder = read_holder(holder_file.parent) or {}
    if not {"pid", "command", "since"} <= holder.keys():
        return "another process"
    return f"process {holder['pid']} ({holder['command']}, since {holder['since']})"


# -- the factory -----------------------------------------------------------------------------
def open_vector_store(settings: Settings | None = None) -> VectorStore:
    """Open the vector store the settings name: a Qdrant server when ``QDRANT_URL`` is set,
    else the embedded store chosen by ``VECTOR_STORE_BACKEND`` (``edge``: qdrant-edge, the
    default; ``local``: qdrant-client's local mode). Close it (or use ``with``) when done.

    An embedded folder held by the running inference service is reached through it: the
    service advertises its internal vector-store endpoint in the holder file, and the store
    returned reads and writes there (new points are searchable by the service at once).

    Raises:
        StoreLocked: an embedded folder is held by another process that does not serve it.
        StoreUnavailable: the server does not answer.
    """
    settings = settings or get_settings()
    if settings.uses_embedded_qdrant:
        if settings.storage.vector_store_backend == "edge":
            from llm_twin.infrastructure.db.edge_vector_store import open_edge_vector_store

            return _embedded_or_service(settings.edge_store_path, open_edge_vector_store)
        from llm_twin.infrastructure.db.qdrant_client_store import open_local_vector_store

        return _embedded_or_service(settings.qdrant_path, open_local_vector_store)
    from llm_twin.infrastructure.db.qdrant_client_store import open_server_vector_store

    api_key = (
        settings.storage.qdrant_api_key.get_secret_value()
        if settings.storage.qdrant_api_key
        else None
    )
    return open_server_vector_store(settings.storage.qdrant_url, api_key)  # type: ignore[arg-type]


def _embedded_or_service(path: Path, open_embedded: Callable[[Path], VectorStore]) -> VectorStore:
    """The embedded store at ``path``, or, when a serving process holds it, that process's
    store reached through its internal endpoint.

    Args:
        path: The embedded folder.
        open_embedded: Opens the folder in this process.

    Raises:
        StoreLocked: the holder does not serve the store (or its endpoint cannot be used).
    """
    try:
        return open_embedded(path)
    except StoreLocked as locked:
        from llm_twin.infrastructure.db.remote_vector_store import connect_to_holder

        remote = connect_to_holder(path, locked)
        if remote is None:
            raise
        return remote
