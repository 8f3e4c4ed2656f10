"""Fixtures of the preprocessing tests: the real MiniLM embedder, loaded once per session."""

import pytest


@pytest.fixture(scope="session")
def embedder():
    """The project's default embedder (all-MiniLM-L6-v2 from its wheel), one torch thread."""
    import torch

    from llm_twin.application.embeddings import get_embedder

    torch.set_num_threads(1)
    loaded = get_embedder()
    loaded.embed(["load"])
    return loaded


@pytest.fixture(scope="session")
def counter(embedder):
    """Token counter of the embedder's tokenizer."""
    from llm_twin.application.preprocessing.chunking import TokenCounter

    return TokenCounter(embedder.tokenizer)
