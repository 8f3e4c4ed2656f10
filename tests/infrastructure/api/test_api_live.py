"""The service over real HTTP (uvicorn on 127.0.0.1): the ``openai`` Python client, many
parallel requests, and the chat page in headless Chromium."""

import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest


def test_openai_client_non_streaming_and_streaming(live_server):
    import openai

    client = openai.OpenAI(base_url=f"{live_server}/v1", api_key="unused", max_retries=0)
    assert [model.id for model in client.models.list()] == ["llm-twin"]
    completion = client.chat.completions.create(
        model="llm-twin",
        messages=[{"role": "user", "content": "How does GPTQ quantize weights?"}],
    )
    assert completion.choices[0].message.content
    assert completion.usage.completion_tokens == 24
    assert completion.model_extra["sources"][0]["link"] == "https://m.example/gptq"

    stream = client.chat.completions.create(
        model="llm-twin",
        messages=[
            {"role": "user", "content": "What is abliteration?"},
            {"role": "assistant", "content": "It removes refusals."},
            {"role": "user", "content": "Tell me more about abliteration"},
        ],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    first = chunks[0]
    assert first.model_extra["sources"][0]["link"] == "https://m.example/abliteration"
    assert first.model_extra["trace_id"]
    deltas = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert len(deltas) >= 2
    assert chunks[-1].usage.completion_tokens == 24
    assert any(c.choices and c.choices[0].finish_reason == "length" for c in chunks)


def test_openai_client_sees_clear_errors(live_server):
    import openai

    client = openai.OpenAI(base_url=f"{live_server}/v1", api_key="unused", max_retries=0)
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        client.chat.completions.create(
            model="llm-twin", messages=[{"role": "assistant", "content": "hi"}]
        )
    assert "role 'user'" in caught.value.body["message"]


def test_many_parallel_requests_all_succeed(live_server):
    questions = ["GPTQ", "abliteration", "streaming pipeline", "reranking"] * 4

    def ask(question: str) -> int:
        response = httpx.post(
            f"{live_server}/rag", json={"query": question, "max_tokens": 4}, timeout=120
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        codes = list(pool.map(ask, questions))
    assert codes == [200] * len(questions)


def test_chat_page_streams_an_answer_with_sources_and_takes_feedback(live_server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(live_server + "/")
    wait = WebDriverWait(browser, 60)
    box = browser.find_element(By.ID, "question")
    box.send_keys("How does GPTQ quantize weights?")
    browser.find_element(By.ID, "send").click()
    turn = wait.until(
        ec.presence_of_element_located((By.CSS_SELECTOR, ".assistant[data-done='true']"))
    )
    assert turn.find_element(By.CSS_SELECTOR, ".text").text.strip()
    assert int(turn.get_attribute("data-chunks")) >= 2, "the answer must arrive in pieces"
    links = [a.get_attribute("href") for a in turn.find_elements(By.CSS_SELECTOR, ".sources a")]
    assert "https://m.example/gptq" in links

    # A second turn keeps the conversation.
    box.send_keys("And abliteration?")
    browser.find_element(By.ID, "send").click()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".assistant[data-done='true']")) == 2)
    assert len(browser.find_elements(By.CSS_SELECTOR, ".turn.user")) == 2

    # Suggest a better answer: stored as feedback with the correction.
    turn.find_element(By.CSS_SELECTOR, "button.suggest").click()
    area = turn.find_element(By.CSS_SELECTOR, "textarea.correction")
    area.clear()
    area.send_keys("GPTQ rounds weights to 4 bits and compensates the error.")
    turn.find_element(By.CSS_SELECTOR, "button.submit-correction").click()
    wait.until(lambda d: "saved" in turn.find_element(By.CSS_SELECTOR, ".actions").text)


def test_sse_is_sent_incrementally(live_server):
    """A longer streamed /rag answer arrives as many SSE events over real HTTP, done last."""
    arrivals = []
    with httpx.stream(
        "POST",
        f"{live_server}/rag",
        json={"query": "GPTQ", "stream": True, "max_tokens": 64},
        timeout=120,
    ) as response:
        started = time.perf_counter()
        for line in response.iter_lines():
            if line.startswith("data: "):
                arrivals.append((time.perf_counter() - started, json.loads(line[6:])))
    assert len(arrivals) > 3
    assert "answer" in arrivals[-1][1]


def test_chat_page_follow_up_keeps_the_subject_and_write_mode_drafts(live_server, browser):
    """Issue 20: a pronoun follow-up finds the first turn's article; Write mode drafts a thread
    in its format with the passages it drew on."""
    from draft_structure import structure_problems
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    browser.get(live_server + "/")
    wait = WebDriverWait(browser, 90)
    box = browser.find_element(By.ID, "question")

    def finished(count: int):
        done = ".turn.assistant[data-done='true']"
        wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, done)) == count)
        return browser.find_elements(By.CSS_SELECTOR, done)[-1]

    def links(turn) -> list[str]:
        return [a.get_attribute("href") for a in turn.find_elements(By.CSS_SELECTOR, ".sources a")]

    box.send_keys("What is abliteration?")
    browser.find_element(By.ID, "send").click()
    assert links(finished(1))[0] == "https://m.example/abliteration"
    box.send_keys("Which weights does it change?")
    browser.find_element(By.ID, "send").click()
    assert links(finished(2))[0] == "https://m.example/abliteration"

    browser.find_element(By.ID, "mode-write").click()
    Select(browser.find_element(By.ID, "format")).select_by_value("thread")
    Select(browser.find_element(By.ID, "length")).select_by_value("short")
    box.send_keys("4-bit quantization with GPTQ")
    browser.find_element(By.ID, "send").click()
    draft = finished(3)
    assert (
        "draft" in draft.get_attribute("class") and draft.get_attribute("data-format") == "thread"
    )
    assert structure_problems("thread", draft.find_element(By.CSS_SELECTOR, ".text").text) == []
    assert links(draft)[0] == "https://m.example/gptq"
