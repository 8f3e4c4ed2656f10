"""LLM Twin: turn a person's own writing into an AI twin that writes like them.

Importing this package does no I/O: settings are read, stores opened and models loaded only when
the code that needs them asks for them.
"""

__version__ = "0.1.0"
