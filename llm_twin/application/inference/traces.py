"""Request traces: one JSON line per request in ``TRACES_DIR/traces.jsonl``, feedback in
``feedback.jsonl`` beside it (joined by ``trace_id``), and, when Opik is configured, the same
trace sent to Opik through ``opik.track``.

JSONL was chosen over a warehouse collection: an append costs microseconds, needs no server, and
the files stay readable by ``tools/traces.py`` while the service runs (the embedded stores are
single-process).

The traces file is rotated when it grows past ``max_bytes`` (to ``traces-<UTC time>.jsonl``);
rotated files older than ``retention_days``, or beyond the newest ``max_files``, are deleted. A
SQLite index beside the files (``traces.index.sqlite``: trace id -> file and byte offset) finds a
trace without reading the files.
"""

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loguru import logger

TRACES_FILE = "traces.jsonl"
FEEDBACK_FILE = "feedback.jsonl"
INDEX_FILE = "traces.index.sqlite"
ROTATED_GLOB = "traces-*.jsonl"


def new_trace_id() -> str:
    """A fresh trace id."""
    return uuid.uuid4().hex


class TraceStore:
    """Append-only trace and feedback files.

    Args:
        directory: Folder of the files (created on first write).
        opik_project: When set, traces are also sent to this Opik project (Opik must be
            configured: ``OPIK_API_KEY`` or ``OPIK_URL``).
        max_bytes: The traces file is rotated past this size (0: never).
        retention_days: Rotated files older than this are deleted (0: kept).
        max_files: At most this many rotated files are kept (0: no limit).
    """

    def __init__(
        self,
        directory: Path,
        opik_project: str | None = None,
        *,
        max_bytes: int = 0,
        retention_days: float = 0,
        max_files: int = 0,
    ) -> None:
        self.directory = Path(directory)
        self._lock = threading.Lock()
        self._opik_project = opik_project
        self._opik_log: Any = None  # opik's tracked function, untyped (built on first use)
        self.max_bytes = max_bytes
        self.retention_days = retention_days
        self.max_files = max_files
        self._index: sqlite3.Connection | None = None

    @property
    def traces_file(self) -> Path:
        return self.directory / TRACES_FILE

    @property
    def feedback_file(self) -> Path:
        return self.directory / FEEDBACK_FILE

    def _append(self, path: Path, record: dict[str, Any]) -> int:
        """Append ``record`` as one line (the caller holds the lock); returns its offset."""
        line = json.dumps(record, ensure_ascii=False, default=str) + "\n"
        self.directory.mkdir(parents=True, exist_ok=True)
        with path.open("ab") as handle:
            offset = handle.tell()
            handle.write(line.encode("utf-8"))
        return offset

    def record(self, trace: dict[str, Any]) -> None:
        """Store one trace (it must have a ``trace_id``); also send it to Opik if configured."""
        trace.setdefault("timestamp", datetime.now(UTC).isoformat())
        with self._lock:
            index = self._opened_index()
            offset = self._append(self.traces_file, trace)
            with index:
                index.execute(
                    "INSERT OR REPLACE INTO traces VALUES (?, ?, ?)",
                    (trace["trace_id"], TRACES_FILE, offset),
                )
            if self.max_bytes and offset > self.max_bytes:
                self._rotate(index)
        if self._opik_project:
            self._send_to_opik(trace)

    def _send_to_opik(self, trace: dict[str, Any]) -> None:
        if self._opik_log is None:
            import opik

            # opik.track logs the arguments as the trace's input and the result as its output.
            @opik.track(name="llm_twin_request", project_name=self._opik_project)
            def llm_twin_request(
                query: str, filters: dict, sources: list, prompt: list, trace_id: str, result: dict
            ) -> dict:
                return result

            self._opik_log = llm_twin_request
        outputs = {
            name: trace.get(name)
            for name in ("answer", "usage", "latency_ms", "model", "backend", "error", "attempts")
        }
        try:
            self._opik_log(
                trace.get("query", ""),
                trace.get("filters", {}),
                trace.get("sources", []),
                trace.get("prompt", []),
                trace["trace_id"],
                outputs,
            )
        except Exception as error:  # monitoring must never fail a request; say so in the log
            logger.warning("sending trace {} to Opik failed: {}", trace["trace_id"], error)

    def record_feedback(
        self, trace_id: str, rating: str, correction: str | None = None
    ) -> dict[str, Any]:
        """Store feedback on a trace.

        Raises:
            KeyError: no trace has ``trace_id``.
        """
        if self._locate(trace_id) is None:
            raise KeyError(trace_id)
        record = {
            "trace_id": trace_id,
            "rating": rating,
            "correction": correction,
            "timestamp": datetime.now(UTC).isoformat(),
        }
        with self._lock:
            self._append(self.feedback_file, record)
        return record

    # -- index and rotation ------------------------------------------------------------------
    def _opened_index(self) -> sqlite3.Connection:
        """The index (the caller holds the lock); built from the files when it is new."""
        if self._index is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            path = self.directory / INDEX_FILE
            fresh = not path.exists()
            index = sqlite3.connect(path, check_same_thread=False)
            index.execute(
                "CREATE TABLE IF NOT EXISTS traces "
                "(trace_id TEXT PRIMARY KEY, file TEXT NOT NULL, offset INTEGER NOT NULL)"
            )
            if fresh:
                with index:
                    index.executemany(
                        "INSERT OR REPLACE INTO traces VALUES (?, ?, ?)", self._scan()
                    )
            self._index = index
        return self._index

    def _scan(self) -> Iterator[tuple[str, str, int]]:
        """``(trace_id, file, offset)`` of every trace in the files (building the index)."""
        for path in self._files():
            with path.open("rb") as handle:
                offset = 0
                for line in handle:
                    trace_id = _trace_id(line)
                    if trace_id is not None:
                        yield trace_id, path.name, offset
                    offset += len(line)

    def _locate(self, trace_id: str) -> tuple[str, int] | None:
        """The file and offset of ``trace_id``'s trace, from the index."""
        with self._lock:
            row = (
                self._opened_index()
                .execute("SELECT file, offset FROM traces WHERE trace_id = ?", (trace_id,))
                .fetchone()
            )
        return (row[0], row[1]) if row else None

    def _files(self) -> list[Path]:
        return trace_files(self.directory)

    def _rotate(self, index: sqlite3.Connection) -> None:
        """Rename the traces file to a dated one, then apply the retention (lock held)."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        rotated = self.directory / f"traces-{stamp}.jsonl"
        self.traces_file.rename(rotated)
        with index:
            index.execute("UPDATE traces SET file = ? WHERE file = ?", (rotated.name, TRACES_FILE))
        old = sorted(self.directory.glob(ROTATED_GLOB))
        keep = old[-self.max_files :] if self.max_files else old
        cutoff = time.time() - self.retention_days * 86400
        for path in old:
            if path not in keep or (self.retention_days and path.stat().st_mtime < cutoff):
                path.unlink()
                with index:
                    index.execute("DELETE FROM traces WHERE file = ?", (path.name,))
                logger.info("trace file {} removed (retention)", path.name)

    # -- reading -----------------------------------------------------------------------------
    def traces(self) -> Iterator[dict[str, Any]]:
        """Every trace, oldest first (lines that are not valid JSON are reported and skipped)."""
        for path in self._files():
            yield from _read(path)

    def feedback(self) -> dict[str, list[dict[str, Any]]]:
        """Feedback records by trace id."""
        result: dict[str, list[dict[str, Any]]] = {}
        for record in _read(self.feedback_file):
            result.setdefault(record.get("trace_id", ""), []).append(record)
        return result

    def get(self, trace_id: str) -> dict[str, Any] | None:
        """The trace with ``trace_id`` (with its ``feedback`` list), or ``None``."""
        found = self._locate(trace_id)
        if found is None:
            return None
        name, offset = found
        try:
            with (self.directory / name).open("rb") as handle:
                handle.seek(offset)
                trace = json.loads(handle.readline())
        except (OSError, ValueError):
            return None  # removed by the retention since the lookup, or not a trace line
        trace["feedback"] = self.feedback().get(trace_id, [])
        return trace

    def close(self) -> None:
        """Close the index."""
        with self._lock:
            if self._index is not None:
                self._index.close()
                self._index = None

    def query(
        self,
        *,
        last: int = 20,
        min_latency_ms: float | None = None,
        errors_only: bool = False,
    ) -> list[dict[str, Any]]:
        """The newest matching traces, newest first, each with its ``feedback``.

        Args:
            last: How many to return.
            min_latency_ms: Only traces whose total latency is at least this.
            errors_only: Only traces that recorded an error.
        """
        matches = []
        for trace in self.traces():
            if errors_only and not trace.get("error"):
                continue
            total = float((trace.get("latency_ms") or {}).get("total", 0.0))
            if min_latency_ms is not None and total < min_latency_ms:
                continue
            matches.append(trace)
        selected = list(reversed(matches[-last:])) if last > 0 else []
        feedback = self.feedback()
        for trace in selected:
            trace["feedback"] = feedback.get(trace.get("trace_id", ""), [])
        return selected

    def preference_pairs(self) -> list[dict[str, str]]:
        """Corrections as preference pairs: ``{prompt, chosen (correction), rejected (answer)}``."""
        pairs = []
        feedback = self.feedback()
        for trace in self.traces():
            for record in feedback.get(trace.get("trace_id", ""), []):
                if record.get("correction") and trace.get("answer"):
                    pairs.append(
                        {
                            "trace_id": trace["trace_id"],
                            "prompt": trace.get("query", ""),
                            "chosen": record["correction"],
                            "rejected": trace["answer"],
                        }
                    )
        return pairs


def trace_files(directory: Path) -> list[Path]:
    """The retained traces files under ``directory``: the rotated ones oldest first (their
    names sort by rotation time), then the current ``traces.jsonl``; empty when there are none.

    Args:
        directory: The traces directory (``TRACES_DIR``).
    """
    rotated = sorted(path for path in directory.glob(ROTATED_GLOB) if path.is_file())
    current = directory / TRACES_FILE
    return rotated + ([current] if current.is_file() else [])


def _trace_id(line: bytes) -> str | None:
    """The ``trace_id`` of a trace line; ``None`` for a line that is not a trace (reported when
    the file is read)."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    trace_id = record.get("trace_id") if isinstance(record, dict) else None
    return trace_id if isinstance(trace_id, str) else None


def _read(path: Path) -> Iterator[dict[str, Any]]:
    if not path.is_file():
        return
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except ValueError:
                logger.warning("{}:{} is not valid JSON; skipped", path, number)


def elapsed_ms(since: float) -> float:
    """Milliseconds since ``since`` (a ``time.perf_counter()`` value), rounded to 0.1."""
    return round((time.perf_counter() - since) * 1000, 1)
