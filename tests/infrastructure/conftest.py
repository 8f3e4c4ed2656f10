"""Fixtures of the LLM and API tests: a tiny Llama model with a ChatML tokenizer, built in a
second from a config and a BPE tokenizer trained on a few sentences."""

from pathlib import Path

import pytest
from tiny_llm import save_tiny_chat_llama

TEXTS = [
    "Abliteration removes the refusal direction from a chat model.",
    "GPTQ quantizes the weights of a large language model to 4 bits.",
    "A streaming pipeline reads change events and writes them to a vector database.",
    "Reranking with a cross-encoder fixes many retrieval problems.",
    "You are the digital twin of the author. Answer in the author's voice. Context Question",
] * 4


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer Llama (random weights) and its tokenizer with a chat template, saved to disk.

    The end-of-sequence token is suppressed, so every answer has exactly ``max_new_tokens``.
    """
    return save_tiny_chat_llama(tmp_path_factory.mktemp("tiny-llm"), TEXTS, 2048)


@pytest.fixture(scope="session")
def tiny_backend(tiny_model_dir: Path):
    """The local backend, loaded with the tiny model."""
    from llm_twin.infrastructure.llm.local import TransformersBackend

    backend = TransformersBackend(tiny_model_dir, timeout=30.0, model_id="tiny-llama")
    backend.load()
    yield backend
    backend.close()
