"""Request traces: one JSON line per request in ``TRACES_DIR/traces.jsonl``, feedback in
``feedback.jsonl`` beside it (joined by ``trace_id``), and, when Opik is configured, the same
trace sent to Opik through ``opik.track``.

JSONL was chosen over a warehouse collection: an append costs microseconds, needs no server, and
the files stay readable by ``tools/traces.py`` while the service runs (the embedded stores are
single-process).
"""

import json
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


def new_trace_id() -> str:
    """A fresh trace id."""
    return uuid.uuid4().hex


class TraceStore:
    """Append-only trace and feedback files.

    Args:
        directory: Folder of the files (created on first write).
        opik_project: When set, traces are also sent to this Opik project (Opik must be
            configured: ``OPIK_API_KEY`` or ``OPIK_URL``).
    """

    def __init__(self, directory: Path, opik_project: str | None = None) -> None:
        self.directory = Path(directory)
        self._lock = threading.Lock()
        self._opik_project = opik_project
        self._opik_log: Any = None

    @property
    def traces_file(self) -> Path:
        return self.directory / TRACES_FILE

    @property
    def feedback_file(self) -> Path:
        return self.directory / FEEDBACK_FILE

    def _append(self, path: Path, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False, default=str) + "\n"
        with self._lock:
            self.directory.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as handle:
                handle.write(line)

    def record(self, trace: dict[str, Any]) -> None:
        """Store one trace (it must have a ``trace_id``); also send it to Opik if configured."""
        trace.setdefault("timestamp", datetime.now(UTC).isoformat())
        self._append(self.traces_file, trace)
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
        if self.get(trace_id) is None:
            raise KeyError(trace_id)
        record = {
            "trace_id": trace_id,
            "rating": rating,
            "correction": correction,
            "timestamp": datetime.now(UTC).isoformat(),
        }
        self._append(self.feedback_file, record)
        return record

    # -- reading -----------------------------------------------------------------------------
    def traces(self) -> Iterator[dict[str, Any]]:
        """Every trace, oldest first (lines that are not valid JSON are reported and skipped)."""
        yield from _read(self.traces_file)

    def feedback(self) -> dict[str, list[dict[str, Any]]]:
        """Feedback records by trace id."""
        result: dict[str, list[dict[str, Any]]] = {}
        for record in _read(self.feedback_file):
            result.setdefault(record.get("trace_id", ""), []).append(record)
        return result

    def get(self, trace_id: str) -> dict[str, Any] | None:
        """The trace with ``trace_id`` (with its ``feedback`` list), or ``None``."""
        for trace in self.traces():
            if trace.get("trace_id") == trace_id:
                trace["feedback"] = self.feedback().get(trace_id, [])
                return trace
        return None

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
