"""/rag accepts published_after/published_before: passed into the vector search (this corpus
is undated, and undated sources are never dropped by a date filter) and recorded in the trace;
a malformed date is a 422."""

from llm_twin.application.inference.traces import TraceStore


def test_rag_date_filters_keep_undated_sources_and_are_traced(client, tmp_path):
    query = {"query": "How does GPTQ quantize weights?", "k": 2, "retrieval_only": True}
    plain = client.post("/rag", json=query).json()
    dated = client.post(
        "/rag", json={**query, "published_after": "2024-01-01", "published_before": "2024-12-31"}
    )
    assert dated.status_code == 200, dated.text
    assert [s["link"] for s in dated.json()["sources"]] == [s["link"] for s in plain["sources"]]
    trace = TraceStore(tmp_path / "traces").query(last=1)[0]
    assert trace["filters"]["published_after"] == "2024-01-01"
    assert trace["filters"]["published_before"] == "2024-12-31"


def test_rag_rejects_a_malformed_date(client):
    response = client.post("/rag", json={"query": "GPTQ", "published_after": "last spring"})
    assert response.status_code == 422
    assert "published_after" in response.text
