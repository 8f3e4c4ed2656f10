"""Errors the domain and infrastructure raise on purpose, each with a message for the user."""


class LLMTwinError(Exception):
    """Base class for errors LLM Twin raises deliberately."""


class ImproperlyConfigured(LLMTwinError):
    """A setting is missing or invalid."""


class StoreUnavailable(LLMTwinError):
    """A store (warehouse or vector store) cannot be reached or opened."""


class StoreLocked(StoreUnavailable):
    """An embedded store's folder is held by another process."""


class InvalidInput(LLMTwinError):
    """User-supplied data (a file, a record, a config) is invalid; the message names it."""
