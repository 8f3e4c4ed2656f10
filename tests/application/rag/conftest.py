"""Fixtures of the retrieval tests: the small indexed corpus (see ``tests/rag_corpus.py``) and
a scriptable fake OpenAI-compatible server (``tests/fake_chat_server.py``)."""

from fake_chat_server import fake_server
from rag_corpus import authors, embedder, indexed_store_dir, retriever

__all__ = ["authors", "embedder", "fake_server", "indexed_store_dir", "retriever"]
