"""Issue 18, finding 5: user corrections are read from every retained traces file, rotated ones
included (the trace store rotates ``traces.jsonl`` by size)."""

from llm_twin.application.dataset.feedback import correction_rows
from llm_twin.application.inference.traces import TraceStore, trace_files


def test_corrections_of_rotated_traces_become_pairs(tmp_path) -> None:
    store = TraceStore(tmp_path, max_bytes=1)  # every trace past the first line rotates
    for number in range(3):
        store.record(
            {"trace_id": f"t{number}", "query": f"question {number}?", "answer": f"answer {number}"}
        )
    for number in range(3):
        store.record_feedback(f"t{number}", "down", correction=f"better answer {number}")
    store.close()

    files = trace_files(tmp_path)
    # t0 and t1 were rotated away: only t2 is left in traces.jsonl.
    assert [path.name.startswith("traces-") for path in files] == [True, False], files
    rows = correction_rows(tmp_path)
    assert sorted(row["prompt"] for row in rows) == [f"question {n}?" for n in range(3)]
    assert {row["chosen"] for row in rows} == {f"better answer {n}" for n in range(3)}


def test_trace_files_lists_rotated_files_oldest_first_then_the_current_one(tmp_path) -> None:
    for name in ("traces.jsonl", "traces-20260102T000000000000Z.jsonl",
                 "traces-20260101T000000000000Z.jsonl", "feedback.jsonl"):  # fmt: skip
        (tmp_path / name).write_text("{}\n")
    assert [path.name for path in trace_files(tmp_path)] == [
        "traces-20260101T000000000000Z.jsonl",
        "traces-20260102T000000000000Z.jsonl",
        "traces.jsonl",
    ]
    assert trace_files(tmp_path / "missing") == []
