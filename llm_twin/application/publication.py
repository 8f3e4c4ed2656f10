"""Publication dates and tags: read from a raw document, carried into every chunk's payload,
and filtered on in the vector search (``published_day`` as a ``YYYYMMDD`` integer so range
filters work in every vector-store backend).

Documents without a date have no ``published_day``; a date filter keeps them unless the caller
asks for dated documents only (they are never dropped silently).
"""

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from llm_twin.domain.documents import ContentDocument
from llm_twin.domain.vectors import PayloadRange

PUBLISHED_FIELD = "published_day"
_ISO_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def publication_day(document: ContentDocument) -> dt.date | None:
    """The document's publication date (``content["Published"]``: ISO date or timestamp)."""
    content = document.content if isinstance(document.content, dict) else {}
    value = content.get("Published")
    match = _ISO_DAY.match(str(value or "").strip())
    if not match:
        return None
    try:
        return dt.date(*(int(part) for part in match.groups()))
    except ValueError:
        return None


def publication_payload(document: ContentDocument) -> dict[str, Any]:
    """``published`` (``YYYY-MM-DD``), ``published_day`` (``YYYYMMDD``) and ``tags`` of
    ``document`` for its vector-store payloads; empty keys are left out."""
    payload: dict[str, Any] = {}
    day = publication_day(document)
    if day is not None:
        payload["published"] = day.isoformat()
        payload[PUBLISHED_FIELD] = day_number(day)
    content = document.content if isinstance(document.content, dict) else {}
    tags = content.get("Tags")
    if isinstance(tags, list) and tags:
        payload["tags"] = [str(tag) for tag in tags]
    return payload


def day_number(day: dt.date) -> int:
    """``2024-05-21`` → ``20240521``."""
    return day.year * 10_000 + day.month * 100 + day.day


@dataclass(frozen=True)
class DateRange:
    """Publication dates a search keeps (bounds inclusive; ``None``: open).

    Attributes:
        after: Earliest publication date kept.
        before: Latest publication date kept.
        include_undated: Keep documents without a date too (the default: a date filter must
            not silently hide what has no date).
    """

    after: dt.date | None = None
    before: dt.date | None = None
    include_undated: bool = True

    def where(self) -> dict[str, PayloadRange]:
        """The vector-store ``where`` condition on :data:`PUBLISHED_FIELD` (days as
        ``YYYYMMDD`` numbers; undated points accepted when :attr:`include_undated`)."""
        return {
            PUBLISHED_FIELD: PayloadRange(
                gte=day_number(self.after) if self.after is not None else None,
                lte=day_number(self.before) if self.before is not None else None,
                include_missing=self.include_undated,
            )
        }
