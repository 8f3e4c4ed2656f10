"""Adapters to the outside world: databases, vector stores, LLM clients, cloud services.

Submodules import their heavy clients lazily; importing this package opens nothing.
"""
