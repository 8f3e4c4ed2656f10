"""User corrections collected by the inference service, as preference pairs.

The service (``llm_twin.application.inference.traces``) appends one JSON line per request to
``TRACES_DIR/traces.jsonl`` (``trace_id``, ``query``, ``answer``…; rotated to
``traces-<time>.jsonl`` past a size, every retained file is read) and one per feedback to
``TRACES_DIR/feedback.jsonl`` (``trace_id``, ``rating``, ``correction``). A feedback record
with a non-empty ``correction`` becomes a pair: prompt = the query, chosen = the correction,
rejected = the service's answer. The files are read directly (not through the API package,
which would import the web stack).
"""

import json
from pathlib import Path
from typing import Any

from loguru import logger

from llm_twin.application.inference.traces import trace_files

FEEDBACK_FILE = "feedback.jsonl"
ORIGIN = "feedback"


def _lines(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    records = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except ValueError:
                logger.warning("{}:{} is not valid JSON; skipped", path, number)
    return records


def correction_rows(traces_dir: Path) -> list[dict[str, Any]]:
    """Preference rows (store columns, ``origin="feedback"``) from the corrections under
    ``traces_dir``; empty when the service has collected none."""
    answers = {
        str(trace.get("trace_id")): trace
        for path in trace_files(traces_dir)
        for trace in _lines(path)
        if trace.get("trace_id")
    }
    rows = []
    for record in _lines(traces_dir / FEEDBACK_FILE):
        correction = str(record.get("correction") or "").strip()
        trace = answers.get(str(record.get("trace_id")))
        if not correction or trace is None:
            continue
        prompt, answer = str(trace.get("query") or "").strip(), str(trace.get("answer") or "")
        if not prompt or not answer.strip():
            continue
        rows.append(
            {
                "prompt": prompt,
                "chosen": correction,
                "rejected": answer.strip(),
                "document_id": "",
                "category": "feedback",
                "author_full_name": str(trace.get("author_full_name") or ""),
                "link": "",
                "title": "",
                "extract_index": -1,
                "generator": f"user-correction:{trace.get('model') or 'unknown'}",
                "origin": ORIGIN,
            }
        )
    return rows
