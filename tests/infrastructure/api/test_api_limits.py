"""Issue 18, finding 5: oversized bodies are refused before parsing, traces stay bounded
(query truncated, files rotated with retention), and feedback finds its trace by id."""

import json

import pytest


def test_body_over_the_limit_is_413_before_parsing(make_client, tmp_path):
    client = make_client(API_MAX_BODY_BYTES=100_000)
    huge = json.dumps({"query": "x" * 2_000_000})
    declared = client.post("/rag", content=huge, headers={"content-type": "application/json"})
    assert declared.status_code == 413
    assert "API_MAX_BODY_BYTES" in declared.json()["error"]["message"]

    def chunks():
        for _ in range(40):
            yield b"x" * 10_000

    streamed = client.post("/rag", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413
    assert not (tmp_path / "traces" / "traces.jsonl").exists()
    assert client.post("/rag", json={"query": "GPTQ"}).status_code == 200


def test_rejected_long_query_is_traced_truncated(make_client, tmp_path):
    client = make_client(API_MAX_QUERY_CHARS=500)
    response = client.post("/rag", json={"query": "y" * 200_000})
    assert response.status_code == 422
    traces = (tmp_path / "traces" / "traces.jsonl").read_text()
    assert len(traces) < 5_000


def test_traces_rotate_with_retention_and_stay_findable(tmp_path):
    from llm_twin.application.inference.traces import TraceStore

    store = TraceStore(tmp_path, max_bytes=2_000, max_files=2)
    for number in range(60):
        store.record({"trace_id": f"t{number}", "query": "q" * 200})
    rotated = sorted(tmp_path.glob("traces-*.jsonl"))
    assert len(rotated) == 2
    assert all(path.stat().st_size < 3_000 for path in rotated)
    assert store.get("t59")["query"] == "q" * 200
    kept = [trace["trace_id"] for trace in store.traces()]
    assert "t0" not in kept and store.get("t0") is None
    assert store.get(kept[0])["trace_id"] == kept[0]  # in the oldest rotated file
    store.close()


def test_feedback_finds_the_trace_without_reading_the_traces(tmp_path, monkeypatch):
    from llm_twin.application.inference.traces import TraceStore

    store = TraceStore(tmp_path)
    for number in range(100):
        store.record({"trace_id": f"t{number}", "query": "q"})

    def no_scan(self):
        raise AssertionError("the traces file was scanned")

    monkeypatch.setattr(TraceStore, "traces", no_scan)
    assert store.record_feedback("t42", "up")["trace_id"] == "t42"
    with pytest.raises(KeyError):
        store.record_feedback("missing", "up")
    store.close()


def test_index_is_built_for_traces_written_before_it(tmp_path):
    from llm_twin.application.inference.traces import TraceStore

    lines = [json.dumps({"trace_id": f"old{n}", "query": "q"}) for n in range(3)]
    (tmp_path / "traces.jsonl").write_text("\n".join(lines) + "\nnot json\n")
    store = TraceStore(tmp_path)
    assert store.get("old2")["trace_id"] == "old2"
    store.close()
