"""A live inference app on 127.0.0.1 holding an embedded (edge) vector store: what other
processes meet while the service runs. Shared by the vector-store contract and the
ingest-while-serving tests (``tests/`` is on ``sys.path``)."""

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from llm_twin.settings import Settings


def free_port() -> int:
    """A port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serving(app, port: int) -> Iterator[str]:  # app: a FastAPI app
    """``app`` served by uvicorn on 127.0.0.1:``port`` (lifespan included); yields its URL."""
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def service_settings(data_dir: Path, port: int, **overrides) -> Settings:
    """Settings of a service on 127.0.0.1:``port`` with its files in ``data_dir``."""
    values = {
        "DATA_DIR": data_dir,
        "API_HOST": "127.0.0.1",
        "API_PORT": port,
        "API_KEY": None,
        "OPIK_API_KEY": None,
        "OPIK_URL": None,
        "LLM_BACKENDS": "local",
        "API_MODEL_RELOAD_SECONDS": 0,
    } | overrides
    return Settings(_env_file=None, **values)


def edge_retriever(settings: Settings, embedder=None, authors=()):
    """A retriever owning the edge store of ``settings`` (the service then holds the folder)."""
    from llm_twin.application.embeddings import get_embedder
    from llm_twin.application.rag import ContextRetriever
    from llm_twin.application.rag.self_query import AuthorDirectory, RuleSelfQuery
    from llm_twin.application.sparse import Bm25SparseEncoder
    from llm_twin.infrastructure.db.edge_vector_store import open_edge_vector_store

    directory = AuthorDirectory(list(authors))
    return ContextRetriever(
        open_edge_vector_store(settings.edge_store_path),
        embedder or get_embedder(),
        Bm25SparseEncoder(),
        directory,
        self_query=RuleSelfQuery(directory),
        owns_store=True,
    )


def no_llm(settings: Settings):
    """An LLM factory for an app that only serves its vector store: no model loads."""
    from llm_twin.infrastructure.llm.base import LLMUnavailable

    raise LLMUnavailable("this test app serves its vector store only")


@contextlib.contextmanager
def serving_edge_store(data_dir: Path, **overrides) -> Iterator[Settings]:
    """A live service (no model) holding the edge store of ``data_dir``; yields the settings
    another process of this machine would have (``overrides``: more of the service's)."""
    from llm_twin.infrastructure.api import create_app

    port = free_port()
    settings = service_settings(data_dir, port, **overrides)
    retriever = edge_retriever(settings)
    try:
        with serving(create_app(settings, retriever=retriever, llm_factory=no_llm), port):
            yield settings
    finally:
        retriever.close()
