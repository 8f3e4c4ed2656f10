"""Retrieval-augmented generation: the retrieval module (self-query, expansion, hybrid filtered
search, reranking, dedup) and the prompt context it builds."""

from llm_twin.application.rag.chunks import RetrievedChunk, to_context
from llm_twin.application.rag.retriever import ContextRetriever, RetrievalOptions

__all__ = ["ContextRetriever", "RetrievalOptions", "RetrievedChunk", "to_context"]
