"""Fixtures of the pipeline runs: a fake OpenAI-compatible server on 127.0.0.1
(``tests/fake_chat_server.py``) that answers every prompt with the same generic text."""

import pytest
from fake_chat_server import fake_server

__all__ = ["fake_server", "generic_llm"]

GENERIC_ANSWER = (
    "As an AI language model, I think this topic is important. There are many aspects to consider."
)


@pytest.fixture
def generic_llm(fake_server):
    """Base URL of a fake server whose every answer is :data:`GENERIC_ANSWER`."""
    fake_server.reply = lambda body: GENERIC_ANSWER
    return fake_server.url
