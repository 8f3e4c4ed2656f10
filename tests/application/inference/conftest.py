"""Fixtures of the answering use-case tests: the scriptable fake OpenAI-compatible server on
127.0.0.1 (``tests/fake_chat_server.py``)."""

from fake_chat_server import fake_server

__all__ = ["fake_server"]
