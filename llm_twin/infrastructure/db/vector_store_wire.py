"""The vector store over HTTP: the operations the inference service serves on its internal
endpoint, their JSON bodies, and :func:`serve_operation`, which runs one on the service's own
store.

Dense vectors travel as base64 of little-endian float32 (what Qdrant stores; a fifth of the
size of JSON numbers); sparse vectors, payloads and filters as JSON. A filter is the list of
backend-neutral conditions (:data:`~llm_twin.infrastructure.db.vector_store.Condition`), so the
serving store applies it exactly as a local caller's ``where`` would be.
"""

import base64
import os
import sys
import uuid
from array import array
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from llm_twin.domain.vectors import (
    PayloadFilter,
    PayloadRange,
    PointId,
    ScoredPoint,
    SparseVector,
    VectorPoint,
)
from llm_twin.infrastructure.db.vector_store import Condition, VectorStore

#: A JSON request or response body.
Body = Mapping[str, Any]  # Any: free-form JSON values, checked by the readers below
#: Operations that change the store (the service forgets cached answers after one).
WRITE_OPERATIONS = frozenset(
    {"ensure_collection", "delete_collection", "upsert", "delete_where", "delete_ids"}
)


# -- encodings -------------------------------------------------------------------------------
def encode_dense(vector: Sequence[float]) -> str:
    """``vector`` as base64 of little-endian float32."""
    values = array("f", (float(x) for x in vector))
    if sys.byteorder == "big":
        values.byteswap()
    return base64.b64encode(values.tobytes()).decode("ascii")


def decode_dense(text: str) -> list[float]:
    """The vector :func:`encode_dense` wrote."""
    values = array("f")
    values.frombytes(base64.b64decode(text, validate=True))
    if sys.byteorder == "big":
        values.byteswap()
    return values.tolist()


def encode_sparse(vector: SparseVector) -> dict[str, list[int] | list[float]]:
    return {
        "indices": [int(i) for i in vector.indices],
        "values": [float(v) for v in vector.values],
    }


def decode_sparse(data: Body) -> SparseVector:
    return SparseVector(
        indices=[int(i) for i in _field(data, "indices", list)],
        values=[float(v) for v in _field(data, "values", list)],
    )


def encode_point(point: VectorPoint) -> dict[str, Any]:
    return {
        "id": str(point.id),
        "vector": encode_dense(point.vector),
        "payload": point.payload,
        "sparse": encode_sparse(point.sparse) if point.sparse is not None else None,
    }


def decode_point(data: Body) -> VectorPoint:
    sparse = data.get("sparse")
    return VectorPoint(
        id=_field(data, "id", str),
        vector=decode_dense(_field(data, "vector", str)),
        payload=dict(_field(data, "payload", dict)),
        sparse=decode_sparse(sparse) if sparse is not None else None,
    )


def encode_hit(hit: ScoredPoint) -> dict[str, Any]:
    return {
        "id": hit.id,
        "score": hit.score,
        "payload": hit.payload,
        "vector": encode_dense(hit.vector) if hit.vector is not None else None,
    }


def decode_hit(data: Body) -> ScoredPoint:
    vector = data.get("vector")
    return ScoredPoint(
        id=str(data["id"]),
        score=float(data["score"]),
        payload=dict(data.get("payload") or {}),
        vector=decode_dense(vector) if vector is not None else None,
    )


def encode_conditions(conditions: Sequence[Condition] | None) -> list[list[Any]] | None:
    """Filter conditions as JSON (a range as its bounds); ``None`` for no filter."""
    if conditions is None:
        return None
    encoded: list[list[Any]] = []
    for key, value in conditions:
        if isinstance(value, PayloadRange):
            bounds = {"gte": value.gte, "lte": value.lte, "include_missing": value.include_missing}
            encoded.append([key, {"range": bounds}])
        else:
            encoded.append([key, value])
    return encoded


def decode_where(data: object) -> PayloadFilter | None:
    """The ``where`` of the conditions :func:`encode_conditions` wrote."""
    if data is None:
        return None
    if not isinstance(data, list):
        raise ValueError("'where' must be a list of [field, value] conditions")
    where: dict[str, str | list[str] | PayloadRange] = {}
    for item in data:
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
            raise ValueError(f"bad filter condition {item!r}: expected [field, value]")
        key, value = item
        if isinstance(value, dict):
            bounds = _field(value, "range", dict)
            where[key] = PayloadRange(
                gte=bounds.get("gte"),
                lte=bounds.get("lte"),
                include_missing=bool(bounds.get("include_missing", False)),
            )
        elif isinstance(value, list):
            where[key] = [str(v) for v in value]
        else:
            where[key] = str(value)
    return where


def encode_offset(offset: PointId | int | None) -> str | int | None:
    return offset if offset is None or isinstance(offset, int) else str(offset)


def decode_offset(offset: object) -> PointId | int | None:
    """A scroll offset as the store returned it (UUIDs travel as strings)."""
    if offset is None or isinstance(offset, int):
        return offset
    try:
        return uuid.UUID(str(offset))
    except ValueError:
        return str(offset)


def _field(data: Body, name: str, kind: type) -> Any:  # Any: the checked JSON value
    """``data[name]``, which must be a ``kind``; ``ValueError`` naming it otherwise."""
    if not isinstance(data, Mapping) or name not in data:
        raise ValueError(f"missing field {name!r}")
    value = data[name]
    if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
        raise ValueError(f"field {name!r} must be a {kind.__name__}")
    return value


# -- the serving side ------------------------------------------------------------------------
def _search(store: VectorStore, name: str, body: Body) -> dict[str, Any]:
    limit = _field(body, "limit", int)
    where = decode_where(body.get("where"))
    if _field(body, "using", str) == "sparse":
        sparse = decode_sparse(_field(body, "vector", dict))
        hits = store.search_sparse(name, sparse, limit=limit, where=where)
    else:
        dense = decode_dense(_field(body, "vector", str))
        hits = store.search(name, dense, limit=limit, where=where)
    return {"result": [encode_hit(hit) for hit in hits]}


def _scroll_page(store: VectorStore, name: str, body: Body) -> dict[str, Any]:
    points, offset = store.scroll_page(
        name,
        where=decode_where(body.get("where")),
        limit=_field(body, "limit", int),
        offset=decode_offset(body.get("offset")),  # type: ignore[arg-type]
        with_vectors=bool(body.get("with_vectors", False)),
    )
    return {"result": [encode_hit(point) for point in points], "next_offset": encode_offset(offset)}


def _upsert(store: VectorStore, name: str, body: Body) -> dict[str, Any]:
    points = [decode_point(point) for point in _field(body, "points", list)]
    return {"result": store.upsert(name, points)}


def _delete_where(store: VectorStore, name: str, body: Body) -> dict[str, Any]:
    match = _field(body, "match", dict)
    store.delete_where(name, **{str(key): str(value) for key, value in match.items()})
    return {"result": None}


def _ensure(store: VectorStore, name: str, body: Body) -> dict[str, Any]:
    size = _field(body, "vector_size", int)
    return {"result": store.ensure_collection(name, size, sparse=bool(body.get("sparse")))}


def _delete_ids(store: VectorStore, name: str, body: Body) -> dict[str, Any]:
    store.delete_ids(name, [str(i) for i in _field(body, "ids", list)])
    return {"result": None}


def _delete_collection(store: VectorStore, name: str, _body: Body) -> dict[str, Any]:
    store.delete_collection(name)
    return {"result": None}


_HANDLERS: dict[str, Callable[[VectorStore, str, Body], dict[str, Any]]] = {
    "collection_exists": lambda store, name, _: {"result": store.collection_exists(name)},
    "vector_size": lambda store, name, _: {"result": store.vector_size(name)},
    "count": lambda store, name, body: {
        "result": store.count(name, where=decode_where(body.get("where")))
    },
    "ensure_collection": _ensure,
    "delete_collection": _delete_collection,
    "upsert": _upsert,
    "delete_where": _delete_where,
    "delete_ids": _delete_ids,
    "search": _search,
    "scroll_page": _scroll_page,
}
#: Every operation the endpoint serves (``ping`` answers without touching the store).
OPERATIONS = frozenset({"ping", *_HANDLERS})


def serve_operation(store: VectorStore, operation: str, body: Body) -> dict[str, Any]:
    """Run one operation of the wire protocol on ``store`` and return its JSON result.

    Args:
        store: The serving process's open store.
        operation: One of :data:`OPERATIONS`.
        body: The request's JSON body (``name``: the collection, plus the operation's fields).

    Raises:
        LookupError: unknown operation (``KeyError``: a missing collection, from the store).
        ValueError: a malformed body, or a value the store refuses.
    """
    if operation == "ping":
        return {"result": {"pid": os.getpid()}}
    handler = _HANDLERS.get(operation)
    if handler is None:
        raise LookupError(f"unknown vector-store operation {operation!r}")
    return handler(store, _field(body, "name", str), body)
