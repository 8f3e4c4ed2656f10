"""Warehouse (MongoDB API) and vector store (Qdrant) repositories."""
