"""tools/traces.py over a trace folder written by the TraceStore."""

import json

import pytest
from typer.testing import CliRunner

from llm_twin.application.inference.traces import TraceStore


@pytest.fixture
def traces_env(tmp_path, monkeypatch):
    from llm_twin.settings import get_settings

    monkeypatch.setenv("TRACES_DIR", str(tmp_path))
    get_settings.cache_clear()
    store = TraceStore(tmp_path)
    store.record({"trace_id": "a", "query": "fast", "answer": "ok", "latency_ms": {"total": 10}})
    store.record({"trace_id": "b", "query": "slow", "answer": "meh", "latency_ms": {"total": 5000}})
    store.record(
        {
            "trace_id": "c",
            "query": "broken",
            "error": {"type": "LLMTimeout", "message": "timed out"},
            "latency_ms": {"total": 60000},
        }
    )
    store.record_feedback("b", "down", "better")
    yield
    get_settings.cache_clear()


def _run(*args: str) -> list[dict]:
    from tools.traces import app

    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_last_slow_errors_show_and_pairs(traces_env):
    assert [t["trace_id"] for t in _run("last", "-n", "2")] == ["c", "b"]
    assert [t["trace_id"] for t in _run("slow", "--min-ms", "1000")] == ["c", "b"]
    assert [t["trace_id"] for t in _run("errors")] == ["c"]
    assert _run("last")[1]["feedback"] == ["down"]
    assert _run("preference-pairs") == [
        {"trace_id": "b", "prompt": "slow", "chosen": "better", "rejected": "meh"}
    ]
    from tools.traces import app

    shown = CliRunner().invoke(app, ["show", "b"])
    assert json.loads(shown.stdout)["feedback"][0]["correction"] == "better"
    missing = CliRunner().invoke(app, ["show", "zzz"])
    assert missing.exit_code == 1
