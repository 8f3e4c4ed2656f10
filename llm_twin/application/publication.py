"""Publication dates and tags: read from a raw document, carried into every chunk's payload,
and filtered on in the vector search (``published_day`` as a ``YYYYMMDD`` integer so range
filters work in every vector-store backend).

Documents without a date have no ``published_day``; a date filter keeps them unless the caller
asks for dated documents only (they are never dropped silently).
"""

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from llm_twin.domain.documents import ContentDocument

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

    def where(self) -> dict[str, dict[str, Any]]:
        """The vector-store ``where`` condition on :data:`PUBLISHED_FIELD`:
        ``{"published_day": {"gte": …, "lte": …, "include_missing": bool}}``."""
        condition: dict[str, Any] = {"include_missing": self.include_undated}
        if self.after is not None:
            condition["gte"] = day_number(self.after)
        if self.before is not None:
            condition["lte"] = day_number(self.before)
        return {PUBLISHED_FIELD: condition}


_YEAR = r"(19\d{2}|20\d{2})"
_MONTHS = {name.lower(): number for number, name in enumerate(calendar.month_name) if name}
_MONTH = r"(" + "|".join(_MONTHS) + r")"
#: "recently", "latest", "lately", "newest": this many days back.
RECENT_DAYS = 180


def parse_time_scope(query: str, today: dt.date | None = None) -> DateRange | None:
    """The publication-date range a question asks for, if any: "in 2024", "in March 2024",
    "since 2023", "before 2022", "after May 2023", "between 2021 and 2023", "last year", "this
    year", "recently"/"latest"/"lately"/"newest" (the last :data:`RECENT_DAYS` days).

    Args:
        query: The user's question.
        today: Reference date for relative scopes (default: today, UTC).
    """
    text = query.lower()
    today = today or dt.datetime.now(dt.UTC).date()
    if match := re.search(rf"\bbetween {_YEAR} and {_YEAR}\b", text):
        first, last = sorted(int(year) for year in match.groups())
        return DateRange(dt.date(first, 1, 1), dt.date(last, 12, 31))
    if match := re.search(rf"\b(since|after|from) (?:{_MONTH} )?{_YEAR}\b", text):
        word, month, year = match.groups()
        start = _month_start(int(year), month) if month else dt.date(int(year), 1, 1)
        if word == "after" and not month:
            start = dt.date(int(year) + 1, 1, 1)
        elif word == "after":
            start = _month_end(int(year), month) + dt.timedelta(days=1)
        return DateRange(after=start)
    if match := re.search(rf"\b(before|until|prior to) (?:{_MONTH} )?{_YEAR}\b", text):
        word, month, year = match.groups()
        if word == "until":
            end = _month_end(int(year), month) if month else dt.date(int(year), 12, 31)
        else:
            end = (_month_start(int(year), month) if month else dt.date(int(year), 1, 1)) - (
                dt.timedelta(days=1)
            )
        return DateRange(before=end)
    if match := re.search(rf"\b(?:in|during|of) {_MONTH},? {_YEAR}\b", text):
        month, year = match.groups()
        return DateRange(_month_start(int(year), month), _month_end(int(year), month))
    if match := re.search(rf"\b(?:in|during|of|from) {_YEAR}\b", text):
        year = int(match.group(1))
        return DateRange(dt.date(year, 1, 1), dt.date(year, 12, 31))
    if re.search(r"\blast year\b", text):
        return DateRange(dt.date(today.year - 1, 1, 1), dt.date(today.year - 1, 12, 31))
    if re.search(r"\bthis year\b", text):
        return DateRange(dt.date(today.year, 1, 1), today)
    if re.search(r"\b(recent(ly)?|latest|lately|newest|most recent)\b", text):
        # "his latest posts": what has a date must be recent; undated ones are kept.
        return DateRange(after=today - dt.timedelta(days=RECENT_DAYS))
    return None


def _month_start(year: int, month: str) -> dt.date:
    return dt.date(year, _MONTHS[month], 1)


def _month_end(year: int, month: str) -> dt.date:
    number = _MONTHS[month]
    return dt.date(year, number, calendar.monthrange(year, number)[1])
