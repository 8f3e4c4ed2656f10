"""The remote store: an embedded folder held by the inference service is reached through the
service's internal endpoint (the contract suite runs on it too), only with the service's token,
in batches under its body limit; when the service stops, the folder opens as usual again."""

import json
import os
import stat
import uuid

import httpx
import pytest
from store_service import free_port, serving_edge_store

from llm_twin.domain.exceptions import StoreLocked
from llm_twin.domain.vectors import VectorPoint
from llm_twin.infrastructure.db.edge_vector_store import EdgeVectorStore, open_edge_vector_store
from llm_twin.infrastructure.db.remote_vector_store import RemoteVectorStore, advertise_service
from llm_twin.infrastructure.db.vector_store import (
    HOLDER_FILE,
    SERVICE_TOKEN_FILE,
    open_vector_store,
)
from llm_twin.settings import Settings


def _points(count: int, text_size: int) -> list[VectorPoint]:
    return [
        VectorPoint(
            id=uuid.uuid5(uuid.NAMESPACE_URL, f"p{index}"),
            vector=[1.0, float(index), 0.0],
            payload={"document_id": f"d{index}", "content": "x" * text_size},
        )
        for index in range(count)
    ]


def test_the_service_advertises_its_endpoint_and_requires_its_token(tmp_path):
    with serving_edge_store(tmp_path / "data") as settings:
        folder = settings.edge_store_path
        holder = json.loads((folder / HOLDER_FILE).read_text())
        url = holder["service"]["url"]
        assert holder["pid"] == os.getpid()
        assert url == f"http://127.0.0.1:{settings.api.port}/internal/vector-store"
        token_file = folder / SERVICE_TOKEN_FILE
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        token = token_file.read_text()

        refused = httpx.post(f"{url}/count", json={"name": "c"})
        assert refused.status_code == 401
        wrong = httpx.post(
            f"{url}/count", json={"name": "c"}, headers={"Authorization": "Bearer nope"}
        )
        assert wrong.status_code == 401
        allowed = httpx.post(
            f"{url}/count", json={"name": "c"}, headers={"Authorization": f"Bearer {token}"}
        )
        assert allowed.status_code == 200 and allowed.json() == {"result": 0}
        # Not part of the public API description.
        schema = httpx.get(url.split("/internal")[0] + "/openapi.json").json()
        assert "/internal" not in json.dumps(schema)

        with open_vector_store(settings) as store:
            assert isinstance(store, RemoteVectorStore)
        # A store opened explicitly on the folder still meets the lock.
        with pytest.raises(StoreLocked, match="in use by process"):
            open_edge_vector_store(folder)
    # The service stopped: no token, no holder; the folder opens in this process again.
    assert not (folder / SERVICE_TOKEN_FILE).exists()
    with open_vector_store(settings) as store:
        assert isinstance(store, EdgeVectorStore)


def test_upserts_are_batched_under_the_service_body_limit(tmp_path):
    with (
        serving_edge_store(tmp_path / "data", API_MAX_BODY_BYTES=10_000) as settings,
        open_vector_store(settings) as store,
    ):
        assert isinstance(store, RemoteVectorStore) and store.max_body_bytes == 10_000
        store.ensure_collection("c", 3)
        # ~3 kB per point: 36 kB in one request would be refused (413); a few at a time pass.
        assert store.upsert("c", _points(12, 3000)) == 12
        assert store.count("c") == 12
        with pytest.raises(ValueError, match="API_MAX_BODY_BYTES=10000"):
            store.upsert("c", _points(1, 20_000))
        # Errors of the served store arrive as the same errors.
        with pytest.raises(ValueError, match="holds 3-d vectors, not 4-d"):
            store.ensure_collection("c", 4)
        with pytest.raises(KeyError, match="does not exist"):
            store.vector_size("missing")


def test_a_holder_that_does_not_answer_is_a_clear_lock_error(tmp_path):
    folder = tmp_path / "qdrant_edge"
    with open_edge_vector_store(folder) as held:
        # Advertised, but nothing listens there (a service stopping, a stale port).
        advertise_service(held, f"http://127.0.0.1:{free_port()}/internal/vector-store", 10_000)
        settings = Settings(_env_file=None, DATA_DIR=tmp_path)
        with pytest.raises(StoreLocked, match="did not answer"):
            open_vector_store(settings)
