"""Opening the stores and the embedder for a feature step, and closing them afterwards."""

import contextlib
from collections.abc import Iterator

from llm_twin.application.preprocessing.sync import FeatureSync
from pipelines.configs import FeatureEngineeringConfig


@contextlib.contextmanager
def feature_sync(config: FeatureEngineeringConfig) -> Iterator[FeatureSync]:
    """A :class:`FeatureSync` on the configured warehouse, vector store and embedder.

    The vector store is closed on exit (the embedded one admits one process at a time); the
    embedder stays loaded for the next step of the same process.

    Args:
        config: The pipeline's config (what to sync and how to cut it).
    """
    from llm_twin.application.embeddings import get_embedder
    from llm_twin.application.sparse import Bm25SparseEncoder
    from llm_twin.infrastructure.db.mongo import open_warehouse
    from llm_twin.infrastructure.db.vector_store import open_vector_store
    from llm_twin.settings import get_settings

    sync_config = config.sync_config()
    settings = get_settings()
    embedder = get_embedder(settings.rag.embedding_model_id, settings.rag.embedding_device)
    with open_warehouse(settings) as warehouse, open_vector_store(settings) as store:
        yield FeatureSync(warehouse, store, embedder, Bm25SparseEncoder(), sync_config)
