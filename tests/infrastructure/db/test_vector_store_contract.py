"""Every vector-store backend honours one contract; backend-specific behaviour is tested after it.

The contract runs against qdrant-edge (the default), qdrant-client's local mode, and the remote
store (an edge store held by a serving process, reached through its internal endpoint); server
mode needs a Qdrant server, which the tests cannot start, so it is skipped with the reason.
"""

import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from llm_twin.domain.exceptions import StoreLocked, StoreUnavailable
from llm_twin.domain.vectors import SparseVector, VectorPoint
from llm_twin.infrastructure.db.edge_vector_store import EdgeVectorStore, open_edge_vector_store
from llm_twin.infrastructure.db.qdrant_client_store import (
    QdrantClientStore,
    open_local_vector_store,
    open_server_vector_store,
)
from llm_twin.infrastructure.db.vector_store import VectorStore, open_vector_store
from llm_twin.settings import Settings

#: Backend name -> (module and opener name for a subprocess, opener of a folder).
EMBEDDED_BACKENDS: dict[str, tuple[str, str, Callable[[Path], VectorStore]]] = {
    "edge": (
        "llm_twin.infrastructure.db.edge_vector_store",
        "open_edge_vector_store",
        open_edge_vector_store,
    ),
    "local": (
        "llm_twin.infrastructure.db.qdrant_client_store",
        "open_local_vector_store",
        open_local_vector_store,
    ),
}
BACKENDS = [
    *EMBEDDED_BACKENDS,
    "remote",
    pytest.param(
        "server",
        marks=pytest.mark.skip(reason="server mode needs a running Qdrant server (QDRANT_URL)"),
    ),
]


def _point(index: int, vector, author: str, category: str = "articles") -> VectorPoint:
    return VectorPoint(
        id=uuid.uuid5(uuid.NAMESPACE_URL, f"p{index}"),
        vector=vector,
        payload={"author_id": author, "category": category, "document_id": f"d{index}"},
        sparse=SparseVector(indices=[index, 100], values=[1.0, 0.5]),
    )


def _open(backend: str, path: Path) -> VectorStore:
    return EMBEDDED_BACKENDS[backend][2](path)


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def opener(backend, tmp_path) -> Iterator[Callable[[], VectorStore]]:
    """Opens the backend's store on one folder (each call: a new opener of the same data)."""
    if backend != "remote":
        yield lambda: _open(backend, tmp_path / backend)
        return
    from store_service import serving_edge_store

    # The folder is held by a serving process: open_vector_store reaches it through it.
    with serving_edge_store(tmp_path / "data") as settings:
        yield lambda: open_vector_store(settings)


@pytest.fixture
def store(opener):
    with opener() as opened:
        yield opened


# -- the contract ----------------------------------------------------------------------------
def test_create_is_idempotent_and_checks_dimension(store):
    assert isinstance(store, VectorStore)
    assert store.ensure_collection("c", 3, sparse=True)
    assert not store.ensure_collection("c", 3, sparse=True)
    assert store.collection_exists("c") and store.vector_size("c") == 3
    with pytest.raises(ValueError, match="holds 3-d vectors, not 4-d"):
        store.ensure_collection("c", 4)
    assert store.count("missing") == 0


def test_upsert_filtered_search_scroll_delete(store):
    store.ensure_collection("c", 3, sparse=True)
    points = [
        _point(1, [1, 0, 0], "ada"),
        _point(2, [0.9, 0.1, 0], "alan"),
        _point(3, [0, 1, 0], "ada", "posts"),
    ]
    assert store.upsert("c", points, batch_size=2) == 3
    store.upsert("c", points)  # same ids overwrite
    assert store.count("c") == 3

    hits = store.search("c", [1, 0, 0], limit=3)
    assert [h.payload["document_id"] for h in hits][:2] == ["d1", "d2"]
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert hits[0].id == str(points[0].id)

    filtered = store.search("c", [1, 0, 0], limit=3, where={"author_id": "alan"})
    assert [h.payload["document_id"] for h in filtered] == ["d2"]
    both = store.search(
        "c", [0, 1, 0], where={"author_id": "ada", "category": ["posts", "repositories"]}
    )
    assert [h.payload["document_id"] for h in both] == ["d3"]

    sparse_hits = store.search_sparse("c", SparseVector(indices=[3], values=[1.0]))
    assert [h.payload["document_id"] for h in sparse_hits] == ["d3"]
    shared = store.search_sparse(
        "c", SparseVector(indices=[100], values=[1.0]), where={"author_id": "ada"}
    )
    assert sorted(h.payload["document_id"] for h in shared) == ["d1", "d3"]

    scrolled = list(store.scroll("c", where={"author_id": "ada"}, with_vectors=True, batch_size=1))
    assert sorted(p.payload["document_id"] for p in scrolled) == ["d1", "d3"]
    assert all(len(p.vector) == 3 for p in scrolled)

    store.delete_where("c", document_id="d1")
    store.delete_ids("c", [points[1].id])
    assert store.count("c") == 1
    assert store.count("c", where={"author_id": "ada"}) == 1
    with pytest.raises(ValueError, match="at least one field"):
        store.delete_where("c")
    store.delete_collection("c")
    assert not store.collection_exists("c") and store.count("c") == 0


def test_searches_see_every_write_made_after_earlier_searches_and_preload(store):
    """The embedded backend keeps the payloads it read; a write must make it read again."""
    store.ensure_collection("c", 3, sparse=True)
    store.upsert("c", [_point(1, [1, 0, 0], "ada"), _point(2, [0, 1, 0], "alan")])
    store.preload("c")
    assert store.search("c", [1, 0, 0], limit=1)[0].payload["author_id"] == "ada"
    store.upsert("c", [_point(1, [1, 0, 0], "grace")])  # same id, new payload
    assert store.search("c", [1, 0, 0], limit=1)[0].payload["author_id"] == "grace"
    sparse = store.search_sparse("c", SparseVector(indices=[1], values=[1.0]))
    assert [h.payload["author_id"] for h in sparse] == ["grace"]
    store.delete_where("c", author_id="grace")
    assert [h.payload["author_id"] for h in store.search("c", [1, 0, 0])] == ["alan"]
    store.delete_collection("c")
    store.ensure_collection("c", 3, sparse=True)
    store.upsert("c", [_point(2, [0, 1, 0], "barbara")])
    assert [h.payload["author_id"] for h in store.search("c", [0, 1, 0])] == ["barbara"]
    store.preload("missing")  # nothing to read


def test_data_survives_reopening(opener):
    with opener() as store:
        store.ensure_collection("c", 3, sparse=True)
        store.upsert("c", [_point(1, [1, 0, 0], "ada")])
    with opener() as store:
        assert store.count("c") == 1
        assert store.search("c", [1, 0, 0])[0].payload["author_id"] == "ada"


@pytest.mark.parametrize("backend", list(EMBEDDED_BACKENDS))
def test_second_process_gets_a_clear_lock_error_naming_the_holder(backend, tmp_path):
    module, opener, _ = EMBEDDED_BACKENDS[backend]
    path = tmp_path / backend
    with _open(backend, path):
        code = (
            "from pathlib import Path\n"
            f"from {module} import {opener}\n"
            f"{opener}(Path({str(path)!r}))\n"
        )
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode != 0
    assert "StoreLocked" in result.stderr
    assert "in use by process" in result.stderr
    # Released on close: a new opener succeeds.
    with _open(backend, path):
        pass


@pytest.mark.parametrize("backend", list(EMBEDDED_BACKENDS))
def test_lock_error_in_process(backend, tmp_path):
    path = tmp_path / backend
    with (
        _open(backend, path),
        pytest.raises(StoreLocked, match="Only one process may open it"),
    ):
        _open(backend, path)


# -- the factory -----------------------------------------------------------------------------
def test_default_backend_is_edge_and_is_a_vector_store(tmp_path):
    settings = Settings(_env_file=None, DATA_DIR=tmp_path)
    with open_vector_store(settings) as store:
        assert isinstance(store, EdgeVectorStore)
        assert isinstance(store, VectorStore)
        assert store.ensure_collection("c", 2)
    assert (tmp_path / "qdrant_edge" / "c" / "collection.json").is_file()


def test_open_vector_store_uses_the_local_mode_folder_when_chosen(tmp_path):
    settings = Settings(_env_file=None, DATA_DIR=tmp_path, VECTOR_STORE_BACKEND="local")
    with open_vector_store(settings) as store:
        assert isinstance(store, QdrantClientStore)
        store.ensure_collection("c", 2)
    assert (tmp_path / "qdrant" / "collection" / "c").exists()


# -- backend-specific ------------------------------------------------------------------------
def test_edge_reads_of_a_missing_collection_find_nothing_and_names_are_checked(tmp_path):
    with open_edge_vector_store(tmp_path / "edge") as store:
        assert store.search("missing", [1, 0, 0]) == []
        with pytest.raises(ValueError, match="invalid collection name"):
            store.ensure_collection("../escape", 3)


def test_edge_payload_cache_is_bounded_and_hits_keep_their_payloads(tmp_path, monkeypatch):
    from llm_twin.infrastructure.db import edge_vector_store

    monkeypatch.setattr(edge_vector_store, "PAYLOAD_CACHE_SIZE", 3)
    with open_edge_vector_store(tmp_path / "edge") as store:
        store.ensure_collection("c", 3)
        store.upsert("c", [_point(i, [1, i / 10, 0], f"a{i}") for i in range(6)])
        store.preload("c")
        assert len(store._payloads["c"]) == 3
        hits = store.search("c", [1, 0, 0], limit=6)  # more hits than the cache holds
        assert [h.payload["author_id"] for h in hits] == [f"a{i}" for i in range(6)]
        assert len(store._payloads["c"]) == 3
        hits[0].payload["author_id"] = "changed by a caller"
        assert store.search("c", [1, 0, 0], limit=1)[0].payload["author_id"] == "a0"


def test_edge_closed_store_is_a_clear_error(tmp_path):
    path = tmp_path / "edge"
    with open_edge_vector_store(path) as store:
        store.ensure_collection("c", 2)
    with pytest.raises(Exception, match="closed"):
        store.ensure_collection("d", 2)


def test_unreachable_server_is_a_clear_error():
    with pytest.raises(StoreUnavailable, match=r"127\.0\.0\.1:9 is unreachable"):
        open_server_vector_store("http://127.0.0.1:9", timeout=1)
