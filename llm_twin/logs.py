"""Logging setup for entry points: loguru to stderr at ``LOG_LEVEL``; stdout stays for results."""

import sys


def configure_logging(level: str | None = None) -> None:
    """Send the project's logs to stderr at ``level`` (default: the ``LOG_LEVEL`` setting)."""
    from loguru import logger

    from llm_twin.settings import get_settings

    logger.remove()
    logger.add(sys.stderr, level=level or get_settings().runtime.log_level)
