"""Fixtures of the dataset tests: documents, a scriptable fake OpenAI-compatible server on
127.0.0.1 (the process boundary, ``tests/fake_chat_server.py``) and a tiny Llama model built
from a config in a second."""

from collections.abc import Callable
from pathlib import Path

import pytest
from fake_chat_server import fake_server
from tiny_llm import save_tiny_chat_llama

from llm_twin.application.dataset.samples import SourceDocument

PARAGRAPHS = [
    "Retrieval-augmented generation grounds a model's answer in documents it retrieves at "
    "query time. I index my articles into a vector database, embed the question, and hand the "
    "nearest chunks to the model as context. The answers cite their sources, which makes "
    "wrong answers easy to spot and fix.",
    "Fine-tuning with LoRA freezes the base weights and trains two small matrices per layer. "
    "On a laptop this means a 135M-parameter model can be adapted in minutes. I keep the "
    "learning rate low and watch the evaluation loss, because small datasets overfit quickly.",
    "Preference alignment with DPO needs pairs of answers: one the author would write and one "
    "they would not. The contrast between them is what the model learns. Generic answers from "
    "a base model make good rejected examples, because they lack the author's voice entirely.",
]


def _make_document(number: int, category: str = "articles", **overrides: str) -> SourceDocument:
    """A document of three distinct paragraphs, unique per ``number``."""
    notes = [f"{p} This is note {number}-{i} of the series." for i, p in enumerate(PARAGRAPHS)]
    content = "\n\n".join(notes)
    values = {
        "document_id": f"00000000-0000-0000-0000-{number:012d}",
        "category": category,
        "author_full_name": "Jane Doe",
        "link": f"https://example.com/{category}/{number}",
        "title": f"Notes on language models, part {number}",
        "content": content,
    }
    values.update(overrides)
    return SourceDocument(**values)


@pytest.fixture
def make_document() -> Callable[..., SourceDocument]:
    """``make_document(number, category="articles", **fields)``: a document of three distinct
    paragraphs, unique per ``number``."""
    return _make_document


@pytest.fixture
def paragraphs() -> list[str]:
    """The three paragraphs documents are made of."""
    return list(PARAGRAPHS)


__all__ = ["fake_server"]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer Llama with random weights and a ChatML BPE tokenizer, saved to disk; the
    end-of-sequence token is suppressed so every reply is ``max_new_tokens`` long."""
    return save_tiny_chat_llama(tmp_path_factory.mktemp("tiny-llm"), PARAGRAPHS * 3, 1024)
