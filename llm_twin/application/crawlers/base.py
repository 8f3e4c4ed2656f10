"""What every crawler shares: the interface, the per-link context and the error it raises."""

import datetime as dt
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from llm_twin.domain.documents import ContentDocument
from llm_twin.domain.exceptions import LLMTwinError
from llm_twin.domain.types import DataCategory


class CrawlError(LLMTwinError):
    """One link could not be crawled; ``reason`` is a short machine-readable code.

    Reasons used: ``unsupported_scheme``, ``private_network``, ``robots_disallowed``,
    ``http_error``, ``timeout``, ``connection_error``, ``empty_extraction``, ``not_html``,
    ``missing_credentials``, ``login_failed``, ``browser_error``, ``clone_failed``,
    ``invalid_link``.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Author:
    """Whose content is being collected (the warehouse user)."""

    id: uuid.UUID
    full_name: str


class Crawler(ABC):
    """Turns one link into validated raw documents.

    Subclasses set :attr:`platform` (stored on each document) and :attr:`category`, and
    implement :meth:`crawl`. A crawler instance may be used by several threads at once; state
    that must not be shared (a browser) lives in per-thread objects it is handed.

    Attributes:
        platform: Platform name stored on documents (``medium``, ``substack``…).
        category: The warehouse category the documents belong to.
        listing: True when a link lists many documents stored under their own links (a LinkedIn
            feed): such links are re-read on every run because they gain new items.
    """

    platform: ClassVar[str]
    category: ClassVar[DataCategory]
    listing: ClassVar[bool] = False

    @abstractmethod
    def crawl(self, link: str, author: Author) -> list[ContentDocument]:
        """Fetch ``link`` and return its documents, authored by ``author``.

        Raises:
            CrawlError: the link failed; the message says why (never a secret).
        """


def utc_now() -> dt.datetime:
    """Now in UTC, naive, millisecond precision (what BSON stores)."""
    now = dt.datetime.now(dt.UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000, tzinfo=None)
