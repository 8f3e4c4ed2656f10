"""What keeps a running service current without a restart, started and stopped by the app's
lifespan:

- its embedded vector store served to this machine's other processes (the feature pipeline,
  CDC, the quickstart write through the service instead of failing on the store's lock; see
  :mod:`llm_twin.infrastructure.db.remote_vector_store` and ``routes/internal.py``);
- its model following promotions in the registry (see :mod:`llm_twin.model.serving`).
"""

from dataclasses import dataclass

from fastapi import FastAPI
from loguru import logger

from llm_twin.infrastructure.db.remote_vector_store import advertise_service, withdraw_service
from llm_twin.infrastructure.db.vector_store import VectorStore
from llm_twin.infrastructure.llm.base import LLMBackend
from llm_twin.model.holder import ModelHolder
from llm_twin.model.serving import ProductionWatcher, reload_enabled
from llm_twin.settings import Settings

#: The path of the internal vector-store endpoint (``routes/internal.py``).
INTERNAL_PATH = "/internal/vector-store"


@dataclass
class LiveUpdates:
    """The running parts: the model watcher, and the store served to other processes.

    Attributes:
        watcher: Follows promotions (None when reloading is off).
        served_store: The store advertised to other processes (None when none is).
    """

    watcher: ProductionWatcher | None = None
    served_store: VectorStore | None = None

    def stop(self) -> None:
        """Stop following promotions and serving the store (before the components close)."""
        if self.watcher is not None:
            self.watcher.stop()
        if self.served_store is not None:
            withdraw_service(self.served_store)


def start_live_updates(app: FastAPI, llm: LLMBackend | None) -> LiveUpdates:
    """Serve the vector store (when the service holds an embedded one) and follow promotions
    (when the app built its model and ``API_MODEL_RELOAD_SECONDS`` > 0).

    Args:
        app: The started app (``app.state.service`` set).
        llm: The app's model.
    """
    settings: Settings = app.state.settings
    live = LiveUpdates()
    app.state.live = live
    serve_vector_store(app)
    if isinstance(llm, ModelHolder) and reload_enabled(settings):
        live.watcher = ProductionWatcher(
            settings,
            llm,
            interval=settings.api.model_reload_seconds,
            listener=app.state.metrics.record_reload,
        )
        live.watcher.start()
        logger.info(
            "following model promotions (the registry is read every {} s)",
            settings.api.model_reload_seconds,
        )
    return live


def serve_vector_store(app: FastAPI) -> None:
    """Advertise the internal endpoint in the holder file of the service's embedded store,
    with a fresh token (nothing for a Qdrant server, or before the store is open).

    Args:
        app: The started app (``app.state.service`` and ``app.state.live`` set).
    """
    service = app.state.service
    if service.retriever is None:
        return
    settings: Settings = app.state.settings
    store = service.retriever.store
    url = internal_url(settings)
    token = advertise_service(store, url, settings.api.max_body_bytes)
    if token is None:
        return
    app.state.internal_token = token
    app.state.live.served_store = store
    logger.info("other processes read and write the embedded vector store through {}", url)


def internal_url(settings: Settings) -> str:
    """The internal endpoint's URL on the service's own address (loopback when it binds every
    interface)."""
    host = settings.api.host
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.api.port}{INTERNAL_PATH}"
