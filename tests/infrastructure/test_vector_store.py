import subprocess
import sys
import uuid

import pytest

from llm_twin.domain.exceptions import StoreLocked
from llm_twin.infrastructure.db.vector_store import (
    SparseVector,
    VectorPoint,
    open_embedded_vector_store,
    open_vector_store,
)
from llm_twin.settings import Settings


def _point(index: int, vector, author: str, category: str = "articles") -> VectorPoint:
    return VectorPoint(
        id=uuid.uuid5(uuid.NAMESPACE_URL, f"p{index}"),
        vector=vector,
        payload={"author_id": author, "category": category, "document_id": f"d{index}"},
        sparse=SparseVector(indices=[index, 100], values=[1.0, 0.5]),
    )


@pytest.fixture
def store(tmp_path):
    with open_embedded_vector_store(tmp_path / "qdrant") as opened:
        yield opened


def test_create_is_idempotent_and_checks_dimension(store):
    assert store.ensure_collection("c", 3, sparse=True)
    assert not store.ensure_collection("c", 3, sparse=True)
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

    filtered = store.search("c", [1, 0, 0], limit=3, where={"author_id": "alan"})
    assert [h.payload["document_id"] for h in filtered] == ["d2"]
    both = store.search(
        "c", [0, 1, 0], where={"author_id": "ada", "category": ["posts", "repositories"]}
    )
    assert [h.payload["document_id"] for h in both] == ["d3"]

    sparse_hits = store.search_sparse("c", SparseVector(indices=[3], values=[1.0]))
    assert [h.payload["document_id"] for h in sparse_hits] == ["d3"]

    scrolled = list(store.scroll("c", where={"author_id": "ada"}, with_vectors=True, batch_size=1))
    assert sorted(p.payload["document_id"] for p in scrolled) == ["d1", "d3"]
    assert all(len(p.vector) == 3 for p in scrolled)

    store.delete_where("c", document_id="d1")
    store.delete_ids("c", [points[1].id])
    assert store.count("c") == 1
    assert store.count("c", where={"author_id": "ada"}) == 1
    with pytest.raises(ValueError, match="at least one field"):
        store.delete_where("c")


def test_open_vector_store_uses_the_local_mode_folder_when_chosen(tmp_path):
    settings = Settings(_env_file=None, DATA_DIR=tmp_path, VECTOR_STORE_BACKEND="local")
    with open_vector_store(settings) as store:
        store.ensure_collection("c", 2)
    assert (tmp_path / "qdrant" / "collection" / "c").exists()


def test_second_process_gets_a_clear_lock_error_naming_the_holder(tmp_path):
    path = tmp_path / "qdrant"
    with open_embedded_vector_store(path):
        code = (
            "import sys; from pathlib import Path\n"
            "from llm_twin.infrastructure.db.vector_store import open_embedded_vector_store\n"
            f"open_embedded_vector_store(Path({str(path)!r}))\n"
        )
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode != 0
    assert "StoreLocked" in result.stderr
    assert "in use by process" in result.stderr
    # Released on close: a new opener succeeds.
    with open_embedded_vector_store(path):
        pass


def test_lock_error_in_process(tmp_path):
    path = tmp_path / "qdrant"
    with (
        open_embedded_vector_store(path),
        pytest.raises(StoreLocked, match="Only one process may open it"),
    ):
        open_embedded_vector_store(path)


def test_unreachable_server_is_a_clear_error():
    from llm_twin.domain.exceptions import StoreUnavailable
    from llm_twin.infrastructure.db.vector_store import open_server_vector_store

    with pytest.raises(StoreUnavailable, match=r"127\.0\.0\.1:9 is unreachable"):
        open_server_vector_store("http://127.0.0.1:9", timeout=1)
