"""The vector store of a running inference service, reached through its internal endpoint.

The embedded store belongs to one process. When that process is the inference service, it
advertises an internal endpoint in the folder's holder file (:func:`advertise_service`: its URL,
and a fresh secret in ``service.token`` beside it, readable only by its user); another process
opening the folder (the feature pipeline, CDC, the quickstart) then gets a
:class:`RemoteVectorStore` that sends every read and write there (:func:`connect_to_holder`,
called by :func:`~llm_twin.infrastructure.db.vector_store.open_vector_store`). The service
applies them to its own open store, so new points are searchable by it at once.
"""

import json
import os
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loguru import logger

from llm_twin.domain.exceptions import StoreLocked, StoreUnavailable
from llm_twin.domain.vectors import PayloadFilter, PointId, ScoredPoint, SparseVector, VectorPoint
from llm_twin.infrastructure.db import vector_store_wire as wire
from llm_twin.infrastructure.db.vector_store import (
    SERVICE_ENTRY,
    SERVICE_TOKEN_FILE,
    Condition,
    Nearest,
    ScrollPage,
    VectorStore,
    read_holder,
    write_holder,
)

if TYPE_CHECKING:
    import httpx

#: Bytes of a request body kept free for everything but the points (name, JSON framing).
_BODY_MARGIN = 4096


class RemoteVectorStore(VectorStore[list[Condition]]):
    """A :class:`~llm_twin.infrastructure.db.vector_store.VectorStore` whose operations run in
    the inference service that holds the embedded folder.

    Args:
        url: The service's internal vector-store endpoint (``.../internal/vector-store``).
        token: The secret of the service's token file.
        max_body_bytes: The service's request-body limit (``API_MAX_BODY_BYTES``): upserts
            are sent in batches below it.
        timeout: Seconds per request.
    """

    def __init__(
        self, url: str, token: str, *, max_body_bytes: int = 1_000_000, timeout: float = 120.0
    ) -> None:
        import httpx

        super().__init__(None)
        self.url = url.rstrip("/")
        self.max_body_bytes = max_body_bytes
        self._client: httpx.Client = httpx.Client(
            timeout=timeout, headers={"Authorization": f"Bearer {token}"}
        )

    # -- the transport -----------------------------------------------------------------------
    def _call(self, operation: str, body: dict[str, Any]) -> dict[str, Any]:  # Any: JSON
        """POST one operation; its JSON answer, or the error it stands for.

        Raises:
            ValueError: the service refused a value (a bad name, another vector size).
            KeyError: a missing collection.
            StoreUnavailable: the service is unreachable, refused the token, or failed.
        """
        import httpx

        content = json.dumps(body, default=str).encode()
        try:
            response = self._client.post(
                f"{self.url}/{operation}",
                content=content,
                headers={"Content-Type": "application/json"},
            )
        except httpx.HTTPError as error:
            raise StoreUnavailable(
                f"the inference service's vector store at {self.url} is unreachable: {error}"
            ) from None
        if response.status_code == 200:
            return response.json()
        message = _error_message(response)
        if response.status_code == 400:
            raise ValueError(message)
        if response.status_code == 404:
            raise KeyError(message)
        if response.status_code in (401, 403):
            raise StoreUnavailable(
                f"the inference service at {self.url} refused the vector-store token "
                "(restarted since it was read?)"
            )
        raise StoreUnavailable(
            f"the inference service's vector store answered {response.status_code}: {message}"
        )

    def ping(self) -> int:
        """The serving process's PID (raises ``StoreUnavailable`` when it does not answer)."""
        return int(self._call("ping", {})["result"]["pid"])

    # -- collections -------------------------------------------------------------------------
    def ensure_collection(self, name: str, vector_size: int, *, sparse: bool = False) -> bool:
        # Checked and created in the service, under its store's lock.
        body = {"name": name, "vector_size": vector_size, "sparse": sparse}
        return bool(self._call("ensure_collection", body)["result"])

    def collection_exists(self, name: str) -> bool:
        return bool(self._call("collection_exists", {"name": name})["result"])

    def vector_size(self, name: str) -> int:
        return int(self._call("vector_size", {"name": name})["result"])

    def delete_collection(self, name: str) -> None:
        self._call("delete_collection", {"name": name})

    def _create_collection(self, name: str, vector_size: int, sparse: bool) -> None:
        self.ensure_collection(name, vector_size, sparse=sparse)

    # -- writes ------------------------------------------------------------------------------
    def upsert(self, name: str, points: Sequence[VectorPoint], batch_size: int = 256) -> int:
        """Write points in batches of at most ``batch_size`` that fit the service's body limit;
        return how many were written.

        Raises:
            ValueError: one point alone is larger than the body limit.
        """
        budget = self.max_body_bytes - _BODY_MARGIN
        batch: list[dict[str, Any]] = []
        used = 0
        for point in points:
            encoded = wire.encode_point(point)
            size = len(json.dumps(encoded, default=str)) + 2
            if size > budget:
                raise ValueError(
                    f"point {point.id} takes {size} bytes, more than the inference service "
                    f"accepts in one request (API_MAX_BODY_BYTES={self.max_body_bytes})"
                )
            if batch and (used + size > budget or len(batch) >= batch_size):
                self._send_points(name, batch)
                batch, used = [], 0
            batch.append(encoded)
            used += size
        if batch:
            self._send_points(name, batch)
        return len(points)

    def _send_points(self, name: str, encoded: list[dict[str, Any]]) -> None:
        self._call("upsert", {"name": name, "points": encoded})

    def _write(self, name: str, points: Sequence[VectorPoint]) -> None:
        self._send_points(name, [wire.encode_point(point) for point in points])

    def _delete_matching(self, name: str, native: list[Condition]) -> None:
        self._call("delete_where", {"name": name, "match": dict(native)})

    def _delete_ids(self, name: str, ids: Sequence[PointId]) -> None:
        self._call("delete_ids", {"name": name, "ids": [str(i) for i in ids]})

    # -- reads -------------------------------------------------------------------------------
    def count(self, name: str, *, where: PayloadFilter | None = None) -> int:
        return self._count(name, self._native_filter(where))

    def _count(self, name: str, native: list[Condition] | None) -> int:
        body = {"name": name, "where": wire.encode_conditions(native)}
        return int(self._call("count", body)["result"])

    def _nearest(self, name: str, request: Nearest[list[Condition]]) -> list[ScoredPoint]:
        query = request.query
        vector = (
            wire.encode_sparse(query)
            if isinstance(query, SparseVector)
            else wire.encode_dense(query)
        )
        body = {
            "name": name,
            "using": "sparse" if isinstance(query, SparseVector) else "dense",
            "vector": vector,
            "limit": request.limit,
            "where": wire.encode_conditions(request.filter),
        }
        return [wire.decode_hit(hit) for hit in self._call("search", body)["result"]]

    def _scroll_page(
        self, name: str, page: ScrollPage[list[Condition]]
    ) -> tuple[list[ScoredPoint], PointId | None]:
        body = {
            "name": name,
            "where": wire.encode_conditions(page.filter),
            "limit": page.limit,
            "offset": wire.encode_offset(page.offset),
            "with_vectors": page.with_vectors,
        }
        answer = self._call("scroll_page", body)
        points = [wire.decode_hit(point) for point in answer["result"]]
        return points, wire.decode_offset(answer.get("next_offset"))  # type: ignore[return-value]

    def _build_filter(self, conditions: list[Condition]) -> list[Condition]:
        return conditions

    # -- lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:
        """Close the connection (the service keeps its store)."""
        self._client.close()


def _error_message(response: "httpx.Response") -> str:
    """The message of the API's JSON error body (else the status line)."""
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}"


def advertise_service(store: VectorStore, url: str, max_body_bytes: int) -> str | None:
    """Name ``url`` as the endpoint serving ``store`` in its holder file, with a fresh token
    written beside it (``service.token``, mode 0600: only this user's processes can use it).

    Args:
        store: The serving process's open store.
        url: Its internal vector-store endpoint.
        max_body_bytes: The service's request-body limit (batches are sized below it).

    Returns:
        The token the endpoint must require, or None when ``store`` has no holder file (a
        Qdrant server, or a store that is itself remote): nothing to serve then.
    """
    holder_file = store.holder_file
    if holder_file is None:
        return None
    token = secrets.token_urlsafe(32)
    token_file = holder_file.parent / SERVICE_TOKEN_FILE
    token_file.unlink(missing_ok=True)
    descriptor = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(token)
    write_holder(holder_file, {"url": url, "max_body_bytes": max_body_bytes})
    return token


def connect_to_holder(path: Path, locked: StoreLocked) -> RemoteVectorStore | None:
    """A store reaching the embedded folder ``path`` through the process holding it, when that
    process serves it (None when it does not: the caller keeps its ``StoreLocked``).

    Args:
        path: The embedded folder.
        locked: The error of opening it here (extended when the service cannot be used).

    Raises:
        StoreLocked: the holder serves the store, but its token cannot be read or its
            endpoint does not answer.
    """
    holder = read_holder(path) or {}
    service = holder.get(SERVICE_ENTRY)
    if not isinstance(service, dict) or not isinstance(service.get("url"), str):
        return None
    url = service["url"]
    token_file = path / SERVICE_TOKEN_FILE
    try:
        token = token_file.read_text().strip()
    except OSError as error:
        raise StoreLocked(
            f"{locked} It serves the store at {url}, but its token file {token_file} cannot be "
            f"read ({error.strerror}): run this as the service's user."
        ) from None
    limit = int(service.get("max_body_bytes") or 1_000_000)
    store = RemoteVectorStore(url, token, max_body_bytes=limit)
    try:
        pid = store.ping()
    except StoreUnavailable as error:
        store.close()
        raise StoreLocked(f"{locked} Its endpoint {url} did not answer: {error}") from None
    logger.info(
        "the embedded vector store at {} is held by the inference service (process {}): "
        "reading and writing through it at {}",
        path,
        pid,
        url,
    )
    return store


def withdraw_service(store: VectorStore) -> None:
    """Stop advertising an endpoint for ``store`` (the service stops; the store may stay open
    in this process): the holder file names this process alone again, the token is deleted.

    Args:
        store: The store :func:`advertise_service` advertised.
    """
    holder_file = store.holder_file
    if holder_file is None or not holder_file.is_file():
        return
    write_holder(holder_file)
    (holder_file.parent / SERVICE_TOKEN_FILE).unlink(missing_ok=True)
