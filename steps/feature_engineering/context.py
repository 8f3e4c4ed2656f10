"""Opening the stores and the embedder for a feature step, and closing them afterwards."""

import contextlib
from collections.abc import Iterator
from typing import Any

from llm_twin.application.preprocessing.chunking import ChunkingConfig
from llm_twin.application.preprocessing.sync import FeatureSync, FeatureSyncConfig
from llm_twin.domain.types import DataCategory


def sync_config(
    author_full_names: list[str] | None = None,
    categories: list[str] | None = None,
    chunking: dict[str, dict[str, Any]] | None = None,
    batch_documents: int = 32,
    reindex: bool = False,
) -> FeatureSyncConfig:
    """A :class:`FeatureSyncConfig` from pipeline parameters (category names in any spelling).

    Raises:
        ValueError: an unknown category or an invalid chunking setting (the message names it).
    """
    return FeatureSyncConfig(
        author_full_names=[name for name in author_full_names or [] if name.strip()],
        categories=[DataCategory.parse(name) for name in categories or []],
        chunking={
            DataCategory.parse(name): ChunkingConfig(**values)
            for name, values in (chunking or {}).items()
        },
        batch_documents=batch_documents,
        reindex=reindex,
    )


@contextlib.contextmanager
def feature_sync(
    author_full_names: list[str] | None = None,
    categories: list[str] | None = None,
    chunking: dict[str, dict[str, Any]] | None = None,
    batch_documents: int = 32,
    reindex: bool = False,
) -> Iterator[FeatureSync]:
    """A :class:`FeatureSync` on the configured warehouse, vector store and embedder.

    The vector store is closed on exit (the embedded one admits one process at a time); the
    embedder stays loaded for the next step of the same process.
    """
    from llm_twin.application.embeddings import get_embedder
    from llm_twin.application.sparse import Bm25SparseEncoder
    from llm_twin.infrastructure.db.mongo import open_warehouse
    from llm_twin.infrastructure.db.vector_store import open_vector_store
    from llm_twin.settings import get_settings

    config = sync_config(author_full_names, categories, chunking, batch_documents, reindex)
    settings = get_settings()
    embedder = get_embedder(settings.rag.embedding_model_id, settings.rag.embedding_device)
    with open_warehouse(settings) as warehouse, open_vector_store(settings) as store:
        yield FeatureSync(warehouse, store, embedder, Bm25SparseEncoder(), config)
