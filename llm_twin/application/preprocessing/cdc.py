"""Change data capture: apply warehouse changes to the vector store as they happen.

Two watchers share :class:`~llm_twin.application.preprocessing.sync.FeatureSync`:

- :class:`PollingWatcher` (the embedded warehouse, or any MongoDB): every interval it reads the
  documents whose ``updated_at`` is at or after the stored position (minus a small look-back
  for writers whose clocks or commits interleave), and compares the warehouse's ids with the
  ids it saw last time to find deletions.
- :class:`ChangeStreamWatcher` (a real replica set): MongoDB change streams, resumed with the
  stored resume token.

The position is saved (atomically) only *after* a batch has been applied, and applying is
idempotent (content-hash checks, deterministic ids): killing the watcher at any moment and
starting it again loses nothing and duplicates nothing.
"""

import datetime as dt
import json
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from loguru import logger

from llm_twin.application.preprocessing.sync import FeatureSync, FeatureSyncConfig, SyncReport
from llm_twin.domain.documents import ContentDocument
from llm_twin.domain.exceptions import StoreLocked
from llm_twin.domain.types import DataCategory
from llm_twin.domain.vectors import Embedder, SparseEncoder
from llm_twin.infrastructure.db.vector_store import VectorStore
from llm_twin.infrastructure.db.warehouse import Warehouse, epoch_ms

if TYPE_CHECKING:
    from pymongo.change_stream import CollectionChangeStream

_EPOCH = dt.datetime(1970, 1, 1)

#: Opens the vector store for one batch of changes (closed right after, so the embedded
#: store is free between batches for the pipeline or the inference service).
StoreOpener = Callable[[], AbstractContextManager[VectorStore]]
#: A change-stream event: a free-form BSON document (``documentKey`` is read).
ChangeEvent = Mapping[str, Any]
#: The open change stream of each category's collection.
Streams = dict[DataCategory, "CollectionChangeStream[ChangeEvent]"]


@dataclass
class CdcState:
    """Where a watcher stands; persisted as JSON.

    Attributes:
        mode: ``poll`` or ``stream`` (a state file of the other mode is not reused).
        position_ms: Polling: ``updated_at`` (epoch ms) of the newest change applied.
        known_ids: Polling: document ids per category at the last applied poll (deletions are
            the ids that disappear).
        resume_tokens: Change streams: per collection, the token after the last applied event.
    """

    mode: str
    position_ms: int = 0
    known_ids: dict[str, list[str]] = field(default_factory=dict)
    resume_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)


class CdcStateFile:
    """The watcher's position on disk, written atomically (temp file + rename).

    Args:
        path: The JSON file, e.g. ``DATA_DIR/cdc/state.json``.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def load(self, mode: str) -> CdcState | None:
        """The stored state for ``mode``, or None if there is none (or it is another mode's)."""
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as error:
            raise ValueError(f"CDC state file {self.path} is unreadable: {error}") from None
        if raw.get("mode") != mode:
            logger.warning(
                "CDC state in {} is for mode {!r}; starting fresh", self.path, raw.get("mode")
            )
            return None
        return CdcState(**raw)

    def save(self, state: CdcState) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", dir=self.path.parent, prefix=".state-", delete=False, encoding="utf-8"
        ) as handle:
            json.dump(state.__dict__, handle, default=str)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, self.path)


@dataclass(eq=False)
class _Watcher:
    """What both watchers share: the warehouse, how to open the store, the encoders and the
    state file; changes are applied through a fresh :class:`FeatureSync` per batch.

    Args:
        warehouse: The warehouse to watch.
        open_store: Opens the vector store for one batch.
        embedder: The dense embedder (loaded once, reused).
        sparse: The sparse encoder.
        state_file: Where the position is kept.
        config: Chunking/batching (its author and category filters are ignored: CDC mirrors
            the whole warehouse).
    """

    mode: ClassVar[str]

    warehouse: Warehouse
    open_store: StoreOpener
    embedder: Embedder
    sparse: SparseEncoder
    state_file: CdcStateFile
    config: FeatureSyncConfig | None = None
    state: CdcState | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.config = self.config or FeatureSyncConfig()
        self.state = self.state_file.load(self.mode)

    def _feature_sync(self, store: VectorStore) -> FeatureSync:
        return FeatureSync(self.warehouse, store, self.embedder, self.sparse, self.config)

    def _apply(self, changed: list[ContentDocument], deleted: list[str]) -> SyncReport:
        """Apply changed documents and deletions with a freshly opened store."""
        report = SyncReport()
        if not changed and not deleted:
            return report
        with self.open_store() as store:
            sync = self._feature_sync(store)
            sync.delete_documents(deleted, report)
            sync.sync_documents(changed, report)
        logger.info(
            "cdc: {} changed ({} re-indexed, {} unchanged), {} deleted, {} chunks embedded",
            len(changed),
            report.documents_processed,
            report.documents_skipped,
            report.documents_deleted,
            report.chunks_embedded,
        )
        return report

    def _stored_ids(self) -> dict[str, list[str]]:
        """Ids of the cleaned documents in the store, per category (the first poll's baseline)."""
        from llm_twin.domain.features import CLEANED_DOCUMENTS_COLLECTION

        ids: dict[str, list[str]] = {}
        with self.open_store() as store:
            if store.collection_exists(CLEANED_DOCUMENTS_COLLECTION):
                for point in store.scroll(CLEANED_DOCUMENTS_COLLECTION):
                    ids.setdefault(str(point.payload["category"]), []).append(str(point.id))
        return ids


@dataclass(eq=False)
class PollingWatcher(_Watcher):
    """Polls ``updated_at`` (and the id sets, for deletions).

    Args (besides those of :class:`_Watcher`):
        lookback_ms: Changes this much older than the position are re-read each poll (cheap:
            unchanged hashes are skipped) so a commit that lands late is not missed.
    """

    mode: ClassVar[str] = "poll"

    lookback_ms: int = 2000

    def poll_once(self) -> SyncReport:
        """Apply every change since the stored position, then save the new position."""
        if self.state is None:
            # First start: the store is the baseline for deletions; every document is read
            # (the hash check skips those already indexed).
            self.state = CdcState(mode=self.mode, known_ids=self._stored_ids())
        since_ms = max(self.state.position_ms - self.lookback_ms, 0)
        # find() reads updated_at > since: one millisecond earlier includes the position itself.
        since = _EPOCH + dt.timedelta(milliseconds=since_ms - 1)
        current: dict[str, list[str]] = {}
        changed: list[ContentDocument] = []
        newest = self.state.position_ms
        for category in DataCategory:
            repository = self.warehouse.documents(category)
            current[category.value] = sorted(repository.hashes())
            for document in repository.find(updated_since=since if since_ms else None):
                changed.append(document)
                if document.updated_at is not None:
                    newest = max(newest, epoch_ms(document.updated_at))
        known = {i for ids in self.state.known_ids.values() for i in ids}
        present = {i for ids in current.values() for i in ids} | {str(d.id) for d in changed}
        deleted = sorted(known - present)
        report = self._apply(changed, deleted)
        for document in changed:  # a document written after the id listing above
            ids = current.setdefault(type(document).category.value, [])
            if str(document.id) not in ids:
                ids.append(str(document.id))
        self.state = CdcState(mode=self.mode, position_ms=newest, known_ids=current)
        self.state_file.save(self.state)
        return report

    def run(self, interval_s: float = 2.0, stop: Callable[[], bool] = lambda: False) -> None:
        """Poll every ``interval_s`` seconds until ``stop()`` is true (or Ctrl-C).

        While another process holds the embedded vector store, the changes wait (the position
        is not advanced) and are applied at a later poll.
        """
        while not stop():
            try:
                self.poll_once()
            except StoreLocked as error:
                logger.warning("cdc: {} Retrying in {} s.", error, interval_s)
            time.sleep(interval_s)


@dataclass(eq=False)
class ChangeStreamWatcher(_Watcher):
    """Applies MongoDB change-stream events of the warehouse's document collections.

    One stream per collection (collection-level streams work on every server that has change
    streams, the embedded nx-27017 included), each resumed from its own stored token. The
    warehouse must be a replica set, sharded cluster, or a server with change streams.

    Args (besides those of :class:`_Watcher`):
        batch_events: Most events read from one stream before applying them.
        max_await_ms: How long one read waits for new events.
    """

    mode: ClassVar[str] = "stream"

    batch_events: int = 64
    max_await_ms: int = 300

    def _open_streams(self, stack: ExitStack) -> Streams:
        tokens = self.state.resume_tokens if self.state else {}
        streams = {}
        for category in DataCategory:
            collection = self.warehouse.database[category.collection]
            streams[category] = stack.enter_context(
                collection.watch(
                    resume_after=tokens.get(category.collection),
                    max_await_time_ms=self.max_await_ms,
                )
            )
        return streams

    def _read_batch(self, stream: "CollectionChangeStream[ChangeEvent]") -> list[ChangeEvent]:
        batch = []
        while len(batch) < self.batch_events:
            event = stream.try_next()
            if event is None:
                break
            batch.append(event)
        return batch

    def apply_events(self, category: DataCategory, events: list[ChangeEvent]) -> SyncReport:
        """Apply a batch of one collection's events (each document's *current* state is read,
        so several events of one document cost one update)."""
        repository = self.warehouse.documents(category)
        changed: list[ContentDocument] = []
        deleted: list[str] = []
        for doc_id in dict.fromkeys(str(event["documentKey"]["_id"]) for event in events):
            document = repository.get(doc_id)
            if document is None:
                deleted.append(doc_id)
            else:
                changed.append(document)
        return self._apply(changed, deleted)

    def poll_once(self, streams: Streams) -> int:
        """Read and apply what each stream has waiting; return the number of events."""
        total = 0
        for category, stream in streams.items():
            events = self._read_batch(stream)
            if events:
                self.apply_events(category, events)
                total += len(events)
            self._save(streams)
        return total

    def run(
        self, stop: Callable[[], bool] = lambda: False, once: bool = False, retry_s: float = 2.0
    ) -> None:
        """Consume events until ``stop()`` (or, with ``once``, until no event is waiting).

        While another process holds the embedded vector store, the streams are reopened from
        the saved tokens every ``retry_s`` seconds (with ``once``, the error is raised).
        """
        while not stop():
            try:
                with ExitStack() as stack:
                    streams = self._open_streams(stack)
                    if self.state is None:
                        # First start: reconcile everything once; the streams are already
                        # open, so nothing written meanwhile is missed (re-applying is a no-op).
                        self._reconcile()
                        self._save(streams)
                    while not stop():
                        if not self.poll_once(streams) and once:
                            return
            except StoreLocked as error:
                if once:
                    raise
                # The events read but not applied are read again from the saved tokens.
                logger.warning("cdc: {} Retrying in {} s.", error, retry_s)
                time.sleep(retry_s)

    def _save(self, streams: Streams) -> None:
        tokens = {
            category.collection: dict(stream.resume_token)
            for category, stream in streams.items()
            if stream.resume_token is not None
        }
        # A collection without a token could not resume: keep no state, so a restart
        # reconciles everything again instead of silently starting from "now".
        if len(tokens) == len(streams) and (
            self.state is None or tokens != self.state.resume_tokens
        ):
            self.state = CdcState(mode=self.mode, resume_tokens=tokens)
            self.state_file.save(self.state)

    def _reconcile(self) -> None:
        with self.open_store() as store:
            self._feature_sync(store).run()


def is_replica_set(warehouse: Warehouse) -> bool:
    """True if the warehouse's server is a replica-set member or mongos (change streams work)."""
    hello = warehouse.database.client.admin.command("hello")
    return bool(hello.get("setName")) or hello.get("msg") == "isdbgrid"
