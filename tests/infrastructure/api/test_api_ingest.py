"""Ingest while serving: with the service holding the embedded vector store, the write path of
another process (``poe run-cdc``, the same per-document sync as the feature pipeline) goes
through the service, and the new document is found through ``/rag`` without a restart."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from store_service import edge_retriever, free_port, service_settings, serving

from llm_twin.domain.documents import ArticleDocument
from llm_twin.infrastructure.db.vector_store import HOLDER_FILE, SERVICE_TOKEN_FILE

ROOT = Path(__file__).resolve().parents[3]
LINK = "https://blog.test/sourdough"
SOURDOUGH = (
    "My sourdough starter lives on rye flour. I feed it twice a day, and the dough proofs for "
    "fourteen hours in the fridge before it meets a very hot Dutch oven. "
) * 4
QUESTION = "How long does the sourdough dough proof in the fridge?"


def _links(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [source["link"] for source in response.json()["sources"]]


@pytest.mark.slow
def test_a_document_written_while_serving_is_found_through_rag(
    tmp_path, embedded_mongo, embedder, tiny_backend
):
    from llm_twin.infrastructure.api import create_app
    from llm_twin.infrastructure.db.mongo import open_warehouse
    from llm_twin.infrastructure.llm.fallback import FallbackLLM

    port = free_port()
    database = f"test_{uuid.uuid4().hex[:12]}"
    settings = service_settings(
        tmp_path / "data",
        port,
        DATABASE_HOST=embedded_mongo,
        DATABASE_NAME=database,
        LLM_MAX_NEW_TOKENS=8,
        LLM_TEMPERATURE=0.0,
        API_CACHE_TTL=600,
    )
    with open_warehouse(settings) as warehouse:
        user, _ = warehouse.users.get_or_create("Ada Lovelace")
    # The service starts knowing no author: Ada's first document is ingested while it runs.
    retriever = edge_retriever(settings, embedder)
    app = create_app(settings, retriever=retriever, llm=FallbackLLM([tiny_backend]))
    try:
        with serving(app, port) as url, httpx.Client(base_url=url, timeout=120) as client:
            # Asked before the document exists: nothing found, and the answer is cached.
            assert LINK not in _links(client.post("/rag", json={"query": QUESTION}))
            by_ada = {"query": QUESTION, "author": "Ada Lovelace", "retrieval_only": True}
            assert client.post("/rag", json=by_ada).status_code == 422  # an unknown author
            with open_warehouse(settings) as warehouse:
                warehouse.articles.upsert_many(
                    [
                        ArticleDocument(
                            content={"Title": "Sourdough", "Content": SOURDOUGH},
                            platform="blog",
                            link=LINK,
                            author_id=user.id,
                            author_full_name=user.full_name,
                        )
                    ]
                )
            # Another process applies the warehouse change: through the service.
            env = dict(
                os.environ,
                PYTHONPATH=str(ROOT),
                OMP_NUM_THREADS="1",
                DATA_DIR=str(settings.storage.data_dir),
                DATABASE_HOST=embedded_mongo,
                DATABASE_NAME=database,
                VECTOR_STORE_BACKEND="edge",
            )
            env.pop("QDRANT_URL", None)
            command = [sys.executable, "-m", "tools.cdc", "--mode", "poll", "--once"]
            result = subprocess.run(
                command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
            )
            assert result.returncode == 0, result.stderr[-3000:]
            assert "held by the inference service" in result.stderr

            # Searchable at once, with no restart; the cached answer was dropped by the write.
            found = _links(client.post("/rag", json={"query": QUESTION, "retrieval_only": True}))
            assert found[0] == LINK
            assert _links(client.post("/rag", json=by_ada)) == [LINK]  # a known author now
            answered = client.post("/rag", json={"query": QUESTION})
            assert LINK in _links(answered) and not answered.json()["cached"]
            ready = client.get("/ready").json()["checks"]["retriever"]
            assert ready.startswith("ok (") and "chunks" in ready
        # The stopped service withdrew its endpoint (the store stays open in this test).
        folder = settings.edge_store_path
        assert "service" not in json.loads((folder / HOLDER_FILE).read_text())
        assert not (folder / SERVICE_TOKEN_FILE).exists()
    finally:
        retriever.close()
