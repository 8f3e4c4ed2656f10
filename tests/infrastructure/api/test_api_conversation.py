"""Conversations through the API: follow-ups are searched as standalone queries, the history
is trimmed to a token budget, client system prompts are appended to the twin's (issue 20)."""

import json

from llm_twin.domain.prompts import SYSTEM_PROMPT

ABLITERATION = "https://m.example/abliteration"
#: Turn 3 only makes sense with turn 1: turn 2 does not name the subject either.
CONVERSATION = [
    {"role": "user", "content": "What is abliteration?"},
    {"role": "assistant", "content": "A way to uncensor a chat model."},
    {"role": "user", "content": "Why would someone do that?"},
    {"role": "assistant", "content": "To stop it from refusing."},
]
TURN_3 = "Which weights does it change?"


def _last_trace(tmp_path) -> dict:
    return json.loads((tmp_path / "traces" / "traces.jsonl").read_text().splitlines()[-1])


def test_turn_3_of_a_conversation_retrieves_the_article_of_turn_1(client, tmp_path):
    alone = client.post(
        "/v1/chat/completions", json={"messages": [{"role": "user", "content": TURN_3}]}
    )
    assert alone.json()["sources"][0]["link"] != ABLITERATION, "turn 3 alone must be ambiguous"

    body = {"messages": [*CONVERSATION, {"role": "user", "content": TURN_3}]}
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["sources"][0]["link"] == ABLITERATION
    assert not response.json()["abstained"]
    trace = _last_trace(tmp_path)
    assert trace["standalone_query"]["method"] == "rules"
    assert "abliteration" in trace["standalone_query"]["query"]
    assert trace["query"] == TURN_3  # the question itself is what the model answers
    assert trace["prompt"][-1]["content"].endswith(f"Question: {TURN_3}")


def test_rag_takes_the_conversation_too(client):
    response = client.post("/rag", json={"query": TURN_3, "history": CONVERSATION})
    assert response.status_code == 200, response.text
    assert response.json()["sources"][0]["link"] == ABLITERATION


def test_the_llm_rewrites_the_follow_up_when_configured(make_client, fake_server, tmp_path):
    fake_server.reply = lambda body: '{"query": "abliteration refusal direction weights"}'
    client = make_client(RAG_QUERY_REWRITE="llm", OPENAI_BASE_URL=fake_server.url)
    body = {"messages": [*CONVERSATION, {"role": "user", "content": TURN_3}]}
    assert client.post("/v1/chat/completions", json=body).json()["sources"][0]["link"] == (
        ABLITERATION
    )
    trace = _last_trace(tmp_path)
    assert trace["standalone_query"] == {
        "query": "abliteration refusal direction weights",
        "method": "llm",
    }
    assert "Why would someone do that?" in fake_server.requests[0]["messages"][-1]["content"]


def test_long_chat_history_keeps_the_system_prompt_and_the_newest_turns(make_client, tmp_path):
    """Issue 18 finding 7 / issue 20: trimmed to LLM_HISTORY_TOKENS (the model's tokenizer)."""
    client = make_client(LLM_HISTORY_TOKENS=1000)
    turns = [
        {"role": "user" if n % 2 == 0 else "assistant", "content": f"turn {n} " + "y" * 400}
        for n in range(60)
    ]
    body = {"messages": [*turns, {"role": "user", "content": "What is GPTQ?"}]}
    assert client.post("/v1/chat/completions", json=body).status_code == 200
    prompt = _last_trace(tmp_path)["prompt"]
    assert prompt[0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert "What is GPTQ?" in prompt[-1]["content"]
    assert prompt[-2]["content"].startswith("turn 59")
    assert 1 <= len(prompt) - 2 < 60


def test_client_system_prompts_are_appended_after_the_twins(client, tmp_path):
    body = {
        "messages": [
            {"role": "system", "content": "Answer in French."},
            {"role": "user", "content": "How does GPTQ quantize weights?"},
        ]
    }
    assert client.post("/v1/chat/completions", json=body).status_code == 200
    system = _last_trace(tmp_path)["prompt"][0]
    assert system["role"] == "system"
    assert system["content"].startswith(SYSTEM_PROMPT)  # the guardrails stay first
    assert system["content"].endswith("Answer in French.")
    too_long = {"messages": [{"role": "system", "content": "x" * 5000}, body["messages"][1]]}
    response = client.post("/v1/chat/completions", json=too_long)
    assert response.status_code == 422 and "system prompt" in response.json()["error"]["message"]
