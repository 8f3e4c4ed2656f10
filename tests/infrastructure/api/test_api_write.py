"""Write mode (``POST /write`` and ``mode: write`` on the OpenAI endpoint) and abstaining on
``/rag``, ``/write`` and chat completions (issue 20)."""

import json

import pytest
from draft_structure import structure_problems

from llm_twin.domain.prompts import WRITE_SYSTEM_PROMPT, WRITING_FORMATS

OFF_TOPIC = "What is the best recipe for a classic Italian lasagna?"


def _last_trace(tmp_path) -> dict:
    return json.loads((tmp_path / "traces" / "traces.jsonl").read_text().splitlines()[-1])


@pytest.mark.parametrize("format_name", list(WRITING_FORMATS))
def test_write_drafts_each_format_with_its_sources(make_client, tmp_path, format_name):
    client = make_client(LLM_MAX_NEW_TOKENS=40)
    body = {"topic": "4-bit quantization with GPTQ", "format": format_name, "length": "short"}
    response = client.post("/write", json=body)
    assert response.status_code == 200, response.text
    draft = response.json()
    assert set(draft) >= {"draft", "sources", "usage", "latency_ms", "trace_id", "model"}
    assert not draft["abstained"] and draft["format"] == format_name
    assert structure_problems(format_name, draft["draft"]) == []
    assert draft["sources"][0]["link"] == "https://m.example/gptq"
    assert draft["usage"]["completion_tokens"] > 0 and draft["model"] == "tiny-llama"
    trace = _last_trace(tmp_path)
    assert trace["trace_id"] == draft["trace_id"] and trace["endpoint"] == "/write"
    assert trace["task"] == {"task": "write", "format": format_name, "length": "short"}
    assert trace["prompt"][0]["content"] == WRITE_SYSTEM_PROMPT
    assert WRITING_FORMATS[format_name].conventions in trace["prompt"][1]["content"]
    assert "second-order information" in trace["prompt"][1]["content"]  # the material
    # The length sets the generation budget (LLM_MAX_NEW_TOKENS is the Q&A default).
    assert trace["params"]["max_new_tokens"] > 40


def test_write_honours_the_clients_instructions_and_author(client, tmp_path):
    body = {
        "topic": "streaming pipelines",
        "format": "linkedin_post",
        "author": "Paul",
        "instructions": "Mention the course.",
        "max_tokens": 8,
    }
    draft = client.post("/write", json=body).json()
    assert {source["author"] for source in draft["sources"]} == {"Paul Iusztin"}
    system = _last_trace(tmp_path)["prompt"][0]["content"]
    assert system.startswith(WRITE_SYSTEM_PROMPT) and system.endswith("Mention the course.")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"topic": "GPTQ", "format": "haiku"}, "format"),
        ({"topic": "GPTQ", "length": "epic"}, "length"),
        ({"topic": ""}, "topic"),
        ({"topic": "GPTQ", "max_tokens": 100000}, "max_tokens"),
    ],
)
def test_bad_write_requests_are_422(client, body, fragment):
    response = client.post("/write", json=body)
    assert response.status_code == 422 and fragment in response.json()["error"]["message"]


def test_write_mode_through_the_openai_endpoint(client, tmp_path):
    body = {
        "mode": "write",
        "format": "thread",
        "length": "short",
        "max_tokens": 30,
        "messages": [
            {"role": "system", "content": "Keep it playful."},
            {"role": "user", "content": "abliteration of chat models"},
        ],
    }
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    completion = response.json()
    draft = completion["choices"][0]["message"]["content"]
    assert structure_problems("thread", draft) == []
    assert completion["sources"][0]["link"] == "https://m.example/abliteration"
    assert completion["abstained"] is False
    trace = _last_trace(tmp_path)
    assert trace["task"]["format"] == "thread"
    assert trace["prompt"][0]["content"].endswith("Keep it playful.")


def test_off_topic_question_abstains_without_generating(client, tmp_path):
    body = client.post("/rag", json={"query": OFF_TOPIC}).json()
    assert body["abstained"] is True
    assert body["answer"].startswith("I haven't written about that")
    assert body["usage"] == {"prompt_tokens": 0, "completion_tokens": 0}
    assert body["sources"] and body["sources"][0]["link"] in body["answer"]
    trace = _last_trace(tmp_path)
    assert trace["abstained"] is True and trace["finish_reason"] == "abstained"
    assert trace["relevance"] < 0.3
    on_topic = client.post("/rag", json={"query": "How does GPTQ quantize weights?"}).json()
    assert on_topic["abstained"] is False and on_topic["usage"]["completion_tokens"] == 12


def test_abstaining_can_be_turned_off(make_client):
    client = make_client(RAG_ABSTAIN_THRESHOLD=0)
    body = client.post("/rag", json={"query": OFF_TOPIC}).json()
    assert body["abstained"] is False and body["usage"]["completion_tokens"] == 12


def test_write_and_chat_completions_abstain_too(client):
    draft = client.post("/write", json={"topic": "sourdough bread baking"}).json()
    assert draft["abstained"] is True and draft["usage"]["completion_tokens"] == 0
    assert draft["draft"].startswith("I haven't written about sourdough bread baking")
    body = {"messages": [{"role": "user", "content": OFF_TOPIC}]}
    completion = client.post("/v1/chat/completions", json=body).json()
    assert completion["abstained"] is True
    assert completion["choices"][0]["finish_reason"] == "stop"
    with client.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as response:
        chunks = [
            json.loads(line[6:])
            for line in response.iter_lines()
            if line.startswith("data: ") and line != "data: [DONE]"
        ]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text.startswith("I haven't written about that")
    assert chunks[-1]["abstained"] is True


def test_write_waits_in_the_same_generation_queue_as_rag(tmp_path, retriever, settings_for):
    import threading

    from fastapi.testclient import TestClient

    from llm_twin.infrastructure.api import create_app
    from tests.infrastructure.api.test_api_admission import BlockingLLM, _wait_for

    llm = BlockingLLM()
    settings = settings_for(tmp_path, API_GENERATION_QUEUE_DEPTH=0, API_GENERATION_DEADLINE=30)
    with TestClient(create_app(settings, retriever=retriever, llm=llm)) as client:
        holder = threading.Thread(target=lambda: client.post("/rag", json={"query": "GPTQ"}))
        holder.start()
        _wait_for(lambda: llm.started == 1)
        refused = client.post("/write", json={"topic": "abliteration of chat models"})
        llm.release.set()
        holder.join(timeout=10)
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert llm.started == 1
    traces = [json.loads(line) for line in (tmp_path / "traces" / "traces.jsonl").open()]
    written = [t for t in traces if t["endpoint"] == "/write"]
    assert [(t.get("error") or {}).get("type") for t in written] == ["Overloaded"]
