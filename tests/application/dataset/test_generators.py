"""Each generator kind produces valid samples: keyphrase (real MiniLM), OpenAI-compatible
(fake server on 127.0.0.1: good, malformed and missing JSON), local LLM (tiny model)."""

import json
import re

import pytest

from llm_twin.application.dataset.extracts import ExtractConfig, split_document
from llm_twin.application.dataset.instruct import instruct_rows
from llm_twin.domain.exceptions import ImproperlyConfigured


@pytest.fixture
def extracts(make_document):
    documents = [make_document(1), make_document(2, category="posts", title="")]
    return [e for d in documents for e in split_document(d, ExtractConfig(100, 400))]


@pytest.mark.slow
def test_keyphrase_generator_names_key_phrases(extracts):
    import torch

    from llm_twin.application.dataset.keyphrase import KeyphraseGenerator, candidate_phrases

    torch.set_num_threads(1)
    generator = KeyphraseGenerator(top_n=2)
    rows = instruct_rows(extracts, generator)
    assert len(rows) == len(extracts)
    for row, extract in zip(rows, extracts, strict=True):
        assert row["answer"] == extract.text
        assert row["generator"] == "keyphrase-minilm-v1"
        if extract.document.category == "articles":
            assert extract.document.title in row["instruction"]
        else:
            assert row["instruction"].startswith("Write a short social media post about")
    phrases = generator.key_phrases(extracts[:1])[0]
    assert len(phrases) == 2
    flat = " ".join(extracts[0].text.split()).lower()
    assert all(p.lower() in flat for p in phrases)
    # Stop words never open or close a candidate; frequent phrases come first.
    candidates = candidate_phrases("the model and the data model", frozenset({"the", "and"}))
    assert candidates[0] == "model"
    assert not any(
        p.split()[0] in {"the", "and"} or p.split()[-1] in {"the", "and"} for p in candidates
    )
    with pytest.raises(ImproperlyConfigured, match="cannot write answers"):
        generator.answers(["Explain LoRA."])


def _items_reply(body, answer=False):
    """A correct JSON reply for the passages in the request."""
    ids = re.findall(r"^\[(\d+)\]", body["messages"][1]["content"], re.MULTILINE)
    items = [{"id": int(i), "instruction": f"Write a paragraph about topic {i}."} for i in ids]
    if answer:
        for item in items:
            item["answer"] = f"An answer about topic {item['id']}."
    return json.dumps({"items": items})


def test_openai_generator_batches_validates_and_retries(fake_server, extracts, monkeypatch):
    from llm_twin.application.dataset.generation import build_generator

    calls = {"n": 0}

    def reply(body):
        calls["n"] += 1
        if calls["n"] == 1:
            return "Sure! Here are your instructions: ..."  # not JSON
        if calls["n"] == 2:
            return json.dumps({"items": [{"id": 1, "instruction": "Too few items here."}]})
        return "```json\n" + _items_reply(body) + "\n```"

    fake_server.reply = reply
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret")
    from llm_twin.settings import get_settings

    get_settings.cache_clear()
    generator = build_generator(
        "openai",
        {
            "base_url": fake_server.url,
            "model": "fake-model",
            "batch_size": len(extracts),
            "concurrency": 1,
            "retries": 2,
            "price_input_per_million": 1.0,
            "price_output_per_million": 2.0,
        },
    )
    get_settings.cache_clear()
    rows = instruct_rows(extracts, generator)
    assert [r["instruction"] for r in rows] == [
        f"Write a paragraph about topic {i}." for i in range(1, len(extracts) + 1)
    ]
    assert all(r["answer"] == e.text for r, e in zip(rows, extracts, strict=True))
    assert rows[0]["generator"] == "openai:fake-model:instruction-backtranslation-v1"
    usage = generator.usage
    assert (usage.requests, usage.retries, usage.failures) == (3, 2, 0)
    assert (usage.prompt_tokens, usage.completion_tokens) == (300, 60)
    assert usage.cost_usd == pytest.approx((300 * 1.0 + 60 * 2.0) / 1e6)
    body = fake_server.requests[0]
    assert body["response_format"] == {"type": "json_object"}
    assert all(e.text in body["messages"][1]["content"] for e in extracts)


def test_openai_generator_counts_failures_and_writes_answers(fake_server, extracts):
    from llm_twin.application.dataset.openai_compatible import OpenAICompatibleGenerator

    fake_server.reply = lambda body: "not json at all"
    generator = OpenAICompatibleGenerator(
        fake_server.url, "fake-model", batch_size=2, concurrency=2, retries=1
    )
    assert instruct_rows(extracts, generator) == []
    assert generator.usage.failures == len(extracts)
    assert generator.usage.requests == 2 * -(-len(extracts) // 2)

    fake_server.reply = lambda body: _items_reply(body, answer=True)
    rows = instruct_rows(extracts, generator, mode="answer")
    assert len(rows) == len(extracts)
    assert rows[0]["answer"] == "An answer about topic 1." and rows[0]["mode"] == "answer"

    fake_server.reply = lambda body: "A generic answer."
    assert generator.answers(["Explain LoRA.", "Explain DPO."]) == ["A generic answer."] * 2
    assert "response_format" not in fake_server.requests[-1]
    fake_server.reply = lambda body: json.dumps({"better": "B", "reason": "clearer"})
    assert generator.judge("Explain LoRA.", "one", "two") == "B"


def test_openai_generator_needs_a_server(monkeypatch):
    from llm_twin.application.dataset.generation import build_generator
    from llm_twin.settings import get_settings

    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    get_settings.cache_clear()
    try:
        with pytest.raises(ImproperlyConfigured, match="OPENAI_BASE_URL"):
            build_generator("openai", {})
        with pytest.raises(ImproperlyConfigured, match="OPENAI_API_KEY instead"):
            build_generator("openai", {"api_key": "sk-x", "base_url": "http://127.0.0.1:9"})
        with pytest.raises(ImproperlyConfigured, match="unknown generator"):
            build_generator("gpt", {})
        with pytest.raises(ImproperlyConfigured, match="invalid option"):
            build_generator("keyphrase", {"top_k": 3})
    finally:
        get_settings.cache_clear()


@pytest.mark.slow
def test_local_generator_with_tiny_model(tiny_model_dir, extracts):
    from llm_twin.application.dataset.local_llm import LocalLLMGenerator, clean_instruction

    generator = LocalLLMGenerator(tiny_model_dir, batch_size=3, max_new_tokens=24, seed=0)
    rows = instruct_rows(extracts, generator)
    # Random weights write random text; each reply is cleaned and validated, failures counted.
    assert rows and len(rows) + generator.usage.failures == len(extracts)
    texts = [e.text for e in extracts]
    for row in rows:
        assert 12 <= len(row["instruction"]) <= 400 and "\n" not in row["instruction"]
        assert row["generator"] == f"local:{tiny_model_dir.name}"
        assert row["answer"] in texts
    assert [texts.index(r["answer"]) for r in rows] == sorted(
        texts.index(r["answer"]) for r in rows
    )
    answers = generator.answers(["Explain LoRA.", "Explain DPO.", "Explain RAG.", "Why?"])
    assert len(answers) == 4 and all(a for a in answers)
    assert generator.usage.requests == -(-len(extracts) // 3) + 2
    assert generator.usage.completion_tokens > 0
    generator.close()

    assert clean_instruction('Request: "Write a post about LoRA."\nmore') == (
        "Write a post about LoRA."
    )
    assert clean_instruction("ok") is None


def test_local_generator_names_the_preparation_command(tmp_path, extracts):
    from llm_twin.application.dataset.local_llm import LocalLLMGenerator

    with pytest.raises(ImproperlyConfigured, match="poe prepare-base-model"):
        LocalLLMGenerator(tmp_path / "missing").instructions(extracts)
