"""Fixtures of the retrieval tests: the small indexed corpus (see ``tests/rag_corpus.py``)."""

from rag_corpus import authors, embedder, indexed_store_dir, retriever

__all__ = ["authors", "embedder", "indexed_store_dir", "retriever"]
