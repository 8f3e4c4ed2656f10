"""``GET /metrics``: Prometheus' own parser reads it; requests by endpoint and status, stage
latencies, tokens, the cache, the model, abstentions and the cost of a priced backend are
counted, per app."""

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.requests import Request

from llm_twin.infrastructure.api.metrics import record_abstention

QUESTION = "How does abliteration remove refusals?"


def _samples(client) -> dict[tuple[str, frozenset], float]:
    """``{(sample name, labels): value}`` of the app's ``/metrics``, read by prometheus-client's
    parser (it raises on anything that is not the exposition format)."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def _value(samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_count_requests_stages_tokens_cache_and_model(make_client):
    client = make_client(API_CACHE_TTL=600)
    assert client.post("/rag", json={"query": QUESTION}).status_code == 200
    assert client.post("/rag", json={"query": QUESTION}).json()["cached"]
    streamed = client.post("/rag", json={"query": "What is GPTQ?", "stream": True})
    assert streamed.status_code == 200 and "event: done" in streamed.text
    sources_only = {"query": "Who wrote about GPTQ?", "retrieval_only": True}
    assert client.post("/rag", json=sources_only).status_code == 200
    # Refused by the use case (traced), not by the request schema.
    assert client.post("/rag", json={"query": QUESTION, "author": "Nobody"}).status_code == 422
    assert client.get("/no/such/page").status_code == 404

    samples = _samples(client)
    requests = "llm_twin_http_requests_total"
    assert _value(samples, requests, endpoint="/rag", method="POST", status="200") == 4
    assert _value(samples, requests, endpoint="/rag", method="POST", status="422") == 1
    assert _value(samples, requests, endpoint="unmatched", method="GET", status="404") == 1
    duration = "llm_twin_http_request_duration_seconds_count"
    assert _value(samples, duration, endpoint="/rag") == 5

    stages = "llm_twin_stage_duration_seconds_count"
    # Retrieval: not for the cached answer; generation: not for the retrieval-only request.
    assert _value(samples, stages, stage="retrieval", endpoint="/rag") == 3
    assert _value(samples, stages, stage="generation", endpoint="/rag") == 2
    assert _value(samples, stages, stage="ttft", endpoint="/rag") == 1  # the streamed one
    assert _value(samples, stages, stage="total", endpoint="/rag") == 5  # the 422 too
    answers = "llm_twin_answers_total"
    assert _value(samples, answers, endpoint="/rag", model="tiny-llama", outcome="ok") == 2
    assert _value(samples, answers, endpoint="/rag", model="tiny-llama", outcome="cached") == 1
    assert _value(samples, answers, endpoint="/rag", model="none", outcome="ok") == 1
    assert _value(samples, answers, endpoint="/rag", model="tiny-llama", outcome="error") == 1

    # Every answer of the tiny model is LLM_MAX_NEW_TOKENS (12) long.
    assert _value(samples, "llm_twin_tokens_total", direction="out", model="tiny-llama") == 24
    assert _value(samples, "llm_twin_tokens_total", direction="in", model="tiny-llama") > 0
    assert _value(samples, "llm_twin_response_cache_hits_total") == 1
    # Lookups: the first question (miss), again (hit), the streamed one and the refused one.
    assert _value(samples, "llm_twin_response_cache_hit_ratio") == pytest.approx(1 / 4)
    assert _value(samples, "llm_twin_model_info", model_id="tiny-llama") == 1
    assert _value(samples, "llm_twin_model_version") == 0  # not a registry version
    assert _value(samples, "llm_twin_generation_active") == 0
    # The local model is not priced.
    assert not any(name == "llm_twin_estimated_cost_usd_total" for name, _ in samples)


def test_each_app_counts_its_own_requests_and_abstentions(make_client):
    first, second = make_client(), make_client()
    assert first.post("/rag", json={"query": QUESTION, "retrieval_only": True}).status_code == 200
    scope = {"type": "http", "app": second.app, "method": "POST", "path": "/rag", "headers": []}
    record_abstention(Request(scope), "/rag")

    ones, twos = _samples(first), _samples(second)
    requests = "llm_twin_http_requests_total"
    assert _value(ones, requests, endpoint="/rag", method="POST", status="200") == 1
    assert _value(twos, requests, endpoint="/rag", method="POST", status="200") == 0
    assert _value(twos, "llm_twin_abstentions_total", endpoint="/rag") == 1
    assert _value(ones, "llm_twin_abstentions_total", endpoint="/rag") == 0


def test_a_priced_backend_has_an_estimated_cost(make_client):
    from fake_chat_server import running_fake_server

    from llm_twin.infrastructure.llm.factory import openai_backend
    from llm_twin.infrastructure.llm.fallback import FallbackLLM

    with running_fake_server(lambda body: "GPTQ rounds weights to 4 bits.") as fake:
        llm = FallbackLLM([openai_backend(fake.url, "gpt-test")])
        client = make_client(
            llm=llm, OPENAI_PRICE_INPUT_PER_MILLION=2.5, OPENAI_PRICE_OUTPUT_PER_MILLION=10.0
        )
        assert client.post("/rag", json={"query": QUESTION}).status_code == 200
        samples = _samples(client)
    # The fake server reports 100 prompt and 20 completion tokens.
    cost = _value(samples, "llm_twin_estimated_cost_usd_total", backend="openai", model="gpt-test")
    assert cost == pytest.approx((100 * 2.5 + 20 * 10.0) / 1e6)
    assert _value(samples, "llm_twin_tokens_total", direction="in", model="gpt-test") == 100


def test_metrics_follow_the_api_key(make_client):
    client = make_client(API_KEY="s3cret-key")
    assert client.get("/metrics").status_code == 401
    allowed = client.get("/metrics", headers={"Authorization": "Bearer s3cret-key"})
    assert allowed.status_code == 200


def test_an_abstained_answer_is_counted_from_its_trace(make_client):
    # Every passage scores below a threshold of 0.99, so the twin abstains without generating.
    client = make_client(RAG_ABSTAIN_THRESHOLD=0.99)
    response = client.post("/rag", json={"query": QUESTION})
    assert response.status_code == 200 and response.json()["abstained"] is True
    samples = _samples(client)
    assert _value(samples, "llm_twin_abstentions_total", endpoint="/rag") == 1
