"""An inference app over a small corpus (indexed through the public VectorStore API with the
real MiniLM embedder) and the tiny local model; a live uvicorn server for client tests."""

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_chat_server import fake_server

from llm_twin.domain.features import EMBEDDED_CHUNKS_COLLECTION, Chunk, chunk_id

__all__ = ["fake_server"]

MAXIME = (str(uuid.uuid5(uuid.NAMESPACE_DNS, "maxime")), "Maxime Labonne")
PAUL = (str(uuid.uuid5(uuid.NAMESPACE_DNS, "paul")), "Paul Iusztin")

#: (link, title, author, text)
CORPUS = [
    (
        "https://m.example/gptq",
        "4-bit Quantization with GPTQ",
        MAXIME,
        "GPTQ quantizes the weights of a large language model to 4 bits layer by layer, using "
        "second-order information to compensate the rounding error of each weight.",
    ),
    (
        "https://m.example/abliteration",
        "Uncensor any LLM with abliteration",
        MAXIME,
        "Abliteration removes the refusal direction from a chat model by orthogonalizing the "
        "weights against the mean activation difference of harmful and harmless prompts.",
    ),
    (
        "https://p.example/streaming",
        "Streaming pipelines for RAG",
        PAUL,
        "Our streaming pipeline reads change events from a queue, then cleans, chunks and "
        "embeds each post and writes it to the vector database in real time.",
    ),
    (
        "https://p.example/rerank",
        "Reranking retrieved passages",
        PAUL,
        "Reranking the retrieved passages with a cross-encoder fixes many RAG problems.",
    ),
]


@pytest.fixture(scope="session")
def embedder():
    import torch

    from llm_twin.application.embeddings import get_embedder

    torch.set_num_threads(1)
    return get_embedder()


@pytest.fixture(scope="session")
def store_dir(tmp_path_factory: pytest.TempPathFactory, embedder) -> Path:
    """An embedded (edge) vector store holding :data:`CORPUS`, one chunk per document."""
    from llm_twin.application.sparse import Bm25SparseEncoder
    from llm_twin.domain.vectors import VectorPoint
    from llm_twin.infrastructure.db.edge_vector_store import open_edge_vector_store

    directory = tmp_path_factory.mktemp("api-store") / "qdrant_edge"
    encoder = Bm25SparseEncoder()
    with open_edge_vector_store(directory) as store:
        store.ensure_collection(EMBEDDED_CHUNKS_COLLECTION, embedder.dimension, sparse=True)
        texts = [f"{title}\n\n{text}" for _, title, _, text in CORPUS]
        vectors = embedder.embed(texts)
        points = []
        for (link, title, (author_id, author), text), vector, embedded in zip(
            CORPUS, vectors, texts, strict=True
        ):
            document_id = uuid.uuid5(uuid.NAMESPACE_URL, link)
            chunk = Chunk(
                id=chunk_id(document_id, 0, text),
                document_id=document_id,
                category="articles",
                author_id=uuid.UUID(author_id),
                author_full_name=author,
                platform="substack",
                link=link,
                title=title,
                content=text,
                chunk_index=0,
                source_hash="h",
            )
            points.append(
                VectorPoint(
                    chunk.id,
                    vector,
                    chunk.model_dump(mode="json", exclude={"id"}),
                    encoder.encode_document(embedded),
                )
            )
        store.upsert(EMBEDDED_CHUNKS_COLLECTION, points)
    return directory


@pytest.fixture(scope="session")
def retriever(store_dir: Path, embedder):
    """A retriever over the corpus (rule-based self-query, evidence reranker)."""
    from llm_twin.application.rag import ContextRetriever, RetrievalOptions
    from llm_twin.application.rag.rerankers import build_reranker
    from llm_twin.application.rag.self_query import Author, AuthorDirectory, RuleSelfQuery
    from llm_twin.application.sparse import Bm25SparseEncoder
    from llm_twin.infrastructure.db.edge_vector_store import open_edge_vector_store

    directory = AuthorDirectory([Author(*MAXIME), Author(*PAUL)])
    built = ContextRetriever(
        open_edge_vector_store(store_dir),
        embedder,
        Bm25SparseEncoder(),
        directory,
        self_query=RuleSelfQuery(directory),
        reranker=build_reranker("evidence"),
        options=RetrievalOptions(top_k=3, candidates=10),
        owns_store=True,
    )
    yield built
    built.close()


def make_settings(tmp_path: Path, **overrides):
    """Settings for an app under test: files in ``tmp_path``, short answers."""
    from llm_twin.settings import Settings

    values = {
        "DATA_DIR": tmp_path,
        "LLM_MAX_NEW_TOKENS": 12,
        "LLM_TEMPERATURE": 0.0,
        "LLM_BACKENDS": "local",
        "API_KEY": None,
        "OPIK_API_KEY": None,
        "OPIK_URL": None,
    } | overrides
    return Settings(**values)


@pytest.fixture
def make_client(tmp_path, retriever, tiny_backend):
    """Build a TestClient for an app with the given settings overrides (and optional llm)."""
    from fastapi.testclient import TestClient

    from llm_twin.infrastructure.api import create_app
    from llm_twin.infrastructure.llm.fallback import FallbackLLM

    clients = []

    def build(llm="tiny", **overrides):
        settings = make_settings(tmp_path, **overrides)
        chosen = FallbackLLM([tiny_backend]) if llm == "tiny" else llm
        app = create_app(settings, retriever=retriever, llm=chosen)
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client):
    """A TestClient of the default app."""
    return make_client()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory, retriever, tiny_backend) -> Iterator[str]:
    """The app served by uvicorn on 127.0.0.1 (a free port); yields its base URL."""
    import uvicorn

    from llm_twin.infrastructure.api import create_app
    from llm_twin.infrastructure.llm.fallback import FallbackLLM

    # The queue holds every request the parallel test sends at once: admission control (the
    # 429 beyond the queue) has its own tests in test_api_admission.py.
    settings = make_settings(
        tmp_path_factory.mktemp("live"),
        LLM_MAX_NEW_TOKENS=24,
        API_GENERATION_QUEUE_DEPTH=32,
        API_GENERATION_QUEUE_WAIT=120,
    )
    app = create_app(settings, retriever=retriever, llm=FallbackLLM([tiny_backend]))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def settings_for():
    """:func:`make_settings`, for tests that build their own app."""
    return make_settings
