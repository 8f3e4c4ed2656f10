"""Fixtures of the evaluation tests: a fake OpenAI-compatible judge on 127.0.0.1 (the process
boundary, ``tests/fake_chat_server.py``) whose replies a test scripts from the prompt."""

import contextlib
from collections.abc import Callable, Iterator

import pytest
from fake_chat_server import FakeServer, running_fake_server


@contextlib.contextmanager
def running_judge(reply: Callable[[str], str] = lambda prompt: "") -> Iterator[FakeServer]:
    """A fake judge answering ``reply(prompt)`` (the last message) while the context lasts;
    ``.prompts`` lists what it answered, ``.fail_first`` makes it fail with HTTP 500 first."""
    with running_fake_server(reply, prompt_only=True) as fake:
        yield fake


@pytest.fixture
def fake_judge() -> Iterator[FakeServer]:
    """A running fake judge; set ``.reply`` (``prompt -> str``) to script it."""
    with running_judge() as fake:
        yield fake
