"""CDC: polling applies inserts, edits and deletions; a restart resumes from the stored position."""

import contextlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from llm_twin.application.preprocessing.cdc import (
    CdcStateFile,
    ChangeStreamWatcher,
    PollingWatcher,
    is_replica_set,
)
from llm_twin.application.preprocessing.chunking import ChunkingConfig
from llm_twin.application.preprocessing.sync import FeatureSyncConfig
from llm_twin.application.sparse import Bm25SparseEncoder
from llm_twin.domain.documents import ArticleDocument
from llm_twin.domain.exceptions import StoreLocked
from llm_twin.domain.features import CLEANED_DOCUMENTS_COLLECTION, EMBEDDED_CHUNKS_COLLECTION
from llm_twin.domain.types import DataCategory
from llm_twin.infrastructure.db.qdrant_client_store import open_local_vector_store

ROOT = Path(__file__).resolve().parents[2]
CONFIG = FeatureSyncConfig(
    chunking={DataCategory.ARTICLES: ChunkingConfig(chunk_tokens=96, overlap_tokens=0)}
)


@pytest.fixture(scope="module")
def embedder():
    import torch

    from llm_twin.application.embeddings import get_embedder

    torch.set_num_threads(1)
    return get_embedder()


def _article(user, slug: str, text: str) -> ArticleDocument:
    return ArticleDocument(
        content={"Title": slug.title(), "Content": text},
        platform="blog",
        link=f"https://blog.test/{slug}",
        author_id=user.id,
        author_full_name=user.full_name,
    )


def _watcher(warehouse, qdrant: Path, state: Path, embedder, kind=PollingWatcher):
    def open_store():
        return contextlib.closing(open_local_vector_store(qdrant))

    return kind(warehouse, open_store, embedder, Bm25SparseEncoder(), CdcStateFile(state), CONFIG)


def _stored(qdrant: Path) -> dict[str, str]:
    """{link: source_hash} of the cleaned documents, and checks every chunk has its document."""
    with open_local_vector_store(qdrant) as store:
        cleaned = {
            p.payload["link"]: p.payload["source_hash"]
            for p in store.scroll(CLEANED_DOCUMENTS_COLLECTION)
        }
        chunk_links = {p.payload["link"] for p in store.scroll(EMBEDDED_CHUNKS_COLLECTION)}
    assert chunk_links == set(cleaned)
    return cleaned


def test_polling_applies_changes_and_resumes_after_a_restart(warehouse, tmp_path, embedder):
    user, _ = warehouse.users.get_or_create("Ada Lovelace")
    qdrant, state = tmp_path / "qdrant", tmp_path / "cdc" / "state-poll.json"
    assert not is_replica_set(warehouse)  # the embedded server: polling is the mode
    warehouse.articles.upsert_many(
        [_article(user, "one", "First text. " * 30), _article(user, "two", "Second text. " * 30)]
    )
    first = _watcher(warehouse, qdrant, state, embedder).poll_once()
    assert first.documents_processed == 2
    saved = json.loads(state.read_text())
    assert saved["position_ms"] > 0 and len(saved["known_ids"]["articles"]) == 2
    assert set(_stored(qdrant)) == {"https://blog.test/one", "https://blog.test/two"}

    # Nothing changed: a poll re-reads only the look-back window and embeds nothing.
    assert _watcher(warehouse, qdrant, state, embedder).poll_once().chunks_embedded == 0

    # While the watcher is down: one edit, one insert, one deletion.
    warehouse.articles.upsert_many(
        [_article(user, "one", "Edited text. " * 30), _article(user, "three", "Third. " * 30)]
    )
    assert warehouse.articles.delete(warehouse.articles.get_by_link("https://blog.test/two").id)

    # A crash while applying (the store is held by another opener) leaves the position alone.
    crashed = _watcher(warehouse, qdrant, state, embedder)
    with open_local_vector_store(qdrant), pytest.raises(StoreLocked):
        crashed.poll_once()
    assert json.loads(state.read_text()) == saved

    restarted = _watcher(warehouse, qdrant, state, embedder).poll_once()
    assert (restarted.documents_processed, restarted.documents_deleted) == (2, 1)
    stored = _stored(qdrant)
    assert set(stored) == {"https://blog.test/one", "https://blog.test/three"}
    edited = warehouse.articles.get_by_link("https://blog.test/one")
    assert stored["https://blog.test/one"] == edited.content_hash
    assert json.loads(state.read_text())["position_ms"] > saved["position_ms"]


def test_change_streams_apply_changes_and_resume_from_their_tokens(warehouse, tmp_path, embedder):
    # The embedded server has collection-level change streams, so this path runs here too.
    user, _ = warehouse.users.get_or_create("Ada Lovelace")
    qdrant, state = tmp_path / "qdrant", tmp_path / "cdc" / "state-stream.json"
    warehouse.articles.upsert_many([_article(user, "one", "First text. " * 30)])
    # First start: reconciles what exists, then stores one token per collection.
    _watcher(warehouse, qdrant, state, embedder, ChangeStreamWatcher).run(once=True)
    assert set(_stored(qdrant)) == {"https://blog.test/one"}
    tokens = json.loads(state.read_text())["resume_tokens"]
    assert set(tokens) == {"articles", "posts", "repositories"}

    # While it is down: an insert and an edit+delete of the same document.
    warehouse.articles.upsert_many([_article(user, "two", "Second. " * 30)])
    warehouse.articles.upsert_many([_article(user, "one", "Edited. " * 30)])
    assert warehouse.articles.delete(warehouse.articles.get_by_link("https://blog.test/one").id)

    crashed = _watcher(warehouse, qdrant, state, embedder, ChangeStreamWatcher)
    with open_local_vector_store(qdrant), pytest.raises(StoreLocked):
        crashed.run(once=True)
    assert json.loads(state.read_text())["resume_tokens"] == tokens

    _watcher(warehouse, qdrant, state, embedder, ChangeStreamWatcher).run(once=True)
    assert set(_stored(qdrant)) == {"https://blog.test/two"}
    assert json.loads(state.read_text())["resume_tokens"]["articles"] != tokens["articles"]


@pytest.mark.slow
def test_cli_once_indexes_the_warehouse_and_keeps_its_position(settings_env, embedded_mongo):
    import os

    from llm_twin.infrastructure.db.mongo import open_warehouse

    with open_warehouse() as warehouse:
        user, _ = warehouse.users.get_or_create("Ada Lovelace")
        warehouse.articles.upsert_many([_article(user, "cli", "Text for the CLI. " * 10)])
    # Local mode, so ``_stored`` can read the folder the CLI wrote.
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", VECTOR_STORE_BACKEND="local")
    command = [sys.executable, "-m", "tools.cdc", "--mode", "auto", "--once"]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "poll mode" in result.stderr
    state = json.loads((settings_env / "cdc" / "state-poll.json").read_text())
    assert len(state["known_ids"]["articles"]) == 1
    with open_warehouse() as warehouse:
        expected = warehouse.articles.get_by_link("https://blog.test/cli").content_hash
    assert _stored(settings_env / "qdrant") == {"https://blog.test/cli": expected}
