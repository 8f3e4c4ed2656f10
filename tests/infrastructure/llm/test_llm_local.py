"""The local transformers backend with a tiny model: real streaming, counts, prompt format."""

import threading
import time

import pytest

from llm_twin.domain.prompts import SYSTEM_PROMPT, build_messages, render_prompt
from llm_twin.infrastructure.llm import GenerationParams, LLMUnavailable
from llm_twin.infrastructure.llm.local import TransformersBackend


def test_streams_several_deltas_in_a_worker_thread(tiny_backend):
    messages = build_messages("What is GPTQ?", "[1] GPTQ — Maxime\nGPTQ quantizes weights.")
    params = GenerationParams(max_new_tokens=24, temperature=0.0)
    main_thread = threading.get_ident()
    stream = tiny_backend.stream(messages, params)
    deltas = list(stream)
    assert len(deltas) >= 2, "tokens must arrive one by one, not as one block"
    assert all(isinstance(delta, str) and delta for delta in deltas)
    assert stream.completion_tokens == 24
    assert stream.finish_reason == "length"
    expected_prompt = render_prompt(tiny_backend.tokenizer, messages)
    assert stream.prompt_tokens == tiny_backend.count_tokens(expected_prompt)
    assert threading.get_ident() == main_thread


def test_complete_is_deterministic_when_greedy(tiny_backend):
    messages = build_messages("Tell me about abliteration")
    params = GenerationParams(max_new_tokens=12, temperature=0.0)
    first = tiny_backend.complete(messages, params)
    second = tiny_backend.complete(messages, params)
    assert first.text == second.text and first.text
    assert first.backend == "local" and first.model == "tiny-llama"
    assert first.completion_tokens == 12


def test_close_stops_generation_early(tiny_backend):
    stream = tiny_backend.stream(
        build_messages("hi"), GenerationParams(max_new_tokens=2000, temperature=0.0)
    )
    started = time.perf_counter()
    next(iter(stream))
    stream.close()
    for _ in stream:
        pass
    assert stream.completion_tokens < 2000
    assert time.perf_counter() - started < 20


def test_prompt_uses_the_chat_template_and_system_prompt(tiny_backend):
    messages = build_messages(
        "Q?",
        "ctx",
        history=[
            {"role": "system", "content": "ignored"},
            {"role": "user", "content": "earlier"},
            {"role": "assistant", "content": "reply"},
        ],
    )
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    prompt = render_prompt(tiny_backend.tokenizer, messages)
    assert prompt.startswith("<|im_start|>system\n" + SYSTEM_PROMPT)
    assert "ignored" not in prompt
    assert prompt.endswith("Context:\nctx\n\nQuestion: Q?<|im_end|>\n<|im_start|>assistant\n")


def test_missing_model_folder_is_unavailable(tmp_path):
    backend = TransformersBackend(tmp_path / "nothing")
    with pytest.raises(LLMUnavailable, match="prepare-base-model"):
        backend.load()
    with pytest.raises(LLMUnavailable):
        backend.check()
