"""Self-query: read the author, content category and time scope a question is about, as search
filters.

The default extractor needs no model: author names are matched against the warehouse's users
(case-, accent- and typo-tolerant, first or last name alone is enough), the category comes from
cue phrases ("in his posts", "in the code") and the publication dates from time scopes ("in
2024", "recently"). An LLM-based extractor can be used when an LLM is configured; its answer is
still resolved against the known users (time scopes are always read by the rules). Nothing here
writes to the warehouse.
"""

import calendar
import datetime as dt
import difflib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from loguru import logger
from pydantic import BaseModel, field_validator

from llm_twin.application.publication import DateRange
from llm_twin.domain.exceptions import InvalidInput
from llm_twin.domain.types import DataCategory
from llm_twin.infrastructure.llm.base import GenerationParams, LLMBackend, LLMError
from llm_twin.infrastructure.llm.structured import chat, complete_json

_WORD = re.compile(r"[^\W_]+(?:'s)?", re.UNICODE)
#: Cue phrases that name a category explicitly; bare words like "code" are not enough
#: ("reduce your PyTorch code latency" is a question about an article).
_CATEGORY_CUES: tuple[tuple[DataCategory, re.Pattern[str]], ...] = (
    (
        DataCategory.ARTICLES,
        re.compile(
            r"\b(?:in|from|of|among|across)\s+(?:\w+(?:'s)?\s+)?"
            r"(?:articles|blog posts|blogs|newsletters?)\b"
        ),
    ),
    (
        DataCategory.POSTS,
        re.compile(r"\b(?:in|from|of|among|across)\s+(?:\w+(?:'s)?\s+)?(?:linkedin\s+)?posts\b"),
    ),
    (
        DataCategory.REPOSITORIES,
        re.compile(
            r"\b(?:in|from|of|among|across)\s+(?:\w+(?:'s)?\s+)?"
            r"(?:code|repositories|repos|github(?:\s+repos)?)\b"
        ),
    ),
)


def normalise(text: str) -> str:
    """Lower-case, accents and compatibility forms folded (``Ｍaxime`` → ``maxime``)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


@dataclass(frozen=True)
class Author:
    """An author retrieval can filter on."""

    id: str
    full_name: str

    @property
    def name_parts(self) -> list[str]:
        return [part for part in normalise(self.full_name).split() if part]


@dataclass(frozen=True)
class QueryFilters:
    """What self-query read from a question.

    Attributes:
        query: The question with the author's name removed (what is searched).
        authors: Matched authors (several when the name is ambiguous); empty: no filter.
        categories: Content categories named by the question; empty: no filter.
        dates: The publication dates the question is scoped to ("in 2024", "recently");
            ``None``: no date filter.
    """

    query: str
    authors: tuple[Author, ...] = ()
    categories: tuple[DataCategory, ...] = field(default_factory=tuple)
    dates: DateRange | None = None


class AuthorDirectory:
    """The known authors (the warehouse's users), matched by name.

    Args:
        authors: Every author retrieval may filter on.
        min_similarity: How close a misspelt name must be to count (difflib ratio, 0–1).
    """

    def __init__(self, authors: Iterable[Author], min_similarity: float = 0.84) -> None:
        self.authors = list(authors)
        self.min_similarity = min_similarity

    @classmethod
    def from_users(cls, users: Iterable[object]) -> "AuthorDirectory":
        """From warehouse ``UserDocument`` records (anything with ``id`` and ``full_name``)."""
        return cls(Author(str(u.id), u.full_name) for u in users)  # type: ignore[attr-defined]

    def _token_matches(self, token: str, part: str) -> bool:
        if token == part:
            return True
        # Typos keep the first letter and about the length; checking that first keeps this
        # cheap (it runs for every word of every question against every name part).
        # Words with digits ("author3", "r2d2") are identifiers, not misspellable names.
        if (
            len(token) < 4
            or len(part) < 4
            or token[0] != part[0]
            or abs(len(token) - len(part)) > 2
            or not (token.isalpha() and part.isalpha())
        ):
            return False
        matcher = difflib.SequenceMatcher(None, token, part)
        return (
            matcher.quick_ratio() >= self.min_similarity and matcher.ratio() >= self.min_similarity
        )

    def match_tokens(self, tokens: Sequence[str]) -> tuple[list[Author], set[int]]:
        """Authors named in ``tokens`` (normalised words) and the positions of their names.

        Every name part found counts one point; the authors with the most points win, so
        "Maxime Labonne" beats another Maxime, and "Maxime" alone matches every Maxime.
        """
        best: list[Author] = []
        best_score = 0
        best_positions: set[int] = set()
        for author in self.authors:
            parts = author.name_parts
            positions = {
                i
                for i, token in enumerate(tokens)
                if any(self._token_matches(token, part) for part in parts)
            }
            score = len({tokens[i] for i in positions})
            if score == 0:
                continue
            if score > best_score:
                best, best_score, best_positions = [author], score, set(positions)
            elif score == best_score:
                best.append(author)
                best_positions |= positions
        return best, best_positions

    def resolve(self, name: str) -> list[Author]:
        """Authors a user-given name (``--author``) refers to, tolerant to case and partial names.

        Raises:
            InvalidInput: no known author matches; the message lists the known authors.
        """
        tokens = [t.removesuffix("'s") for t in _WORD.findall(normalise(name))]
        matches, _ = self.match_tokens(tokens) if tokens else ([], set())
        if not matches:
            known = ", ".join(sorted(a.full_name for a in self.authors)) or "none"
            raise InvalidInput(f"unknown author {name!r} (known authors: {known})")
        return matches


def _strip_positions(query: str, positions: set[int]) -> str:
    """``query`` without the words at ``positions`` (indices into its word list)."""
    if not positions:
        return query
    pieces: list[str] = []
    last = 0
    for index, match in enumerate(_WORD.finditer(query)):
        if index in positions:
            pieces.append(query[last : match.start()])
            last = match.end()
    pieces.append(query[last:])
    stripped = " ".join("".join(pieces).split())
    # A question that was only a name keeps its text (searching for nothing finds nothing).
    return stripped if _WORD.search(stripped) else query


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


def categories_in(query: str) -> tuple[DataCategory, ...]:
    """Categories the question explicitly restricts itself to."""
    text = normalise(query)
    return tuple(category for category, cue in _CATEGORY_CUES if cue.search(text))


class RuleSelfQuery:
    """Self-query without a model: name matching plus category cue phrases.

    Args:
        directory: The known authors.
    """

    def __init__(self, directory: AuthorDirectory) -> None:
        self.directory = directory

    def extract(self, query: str) -> QueryFilters:
        words = _WORD.findall(normalise(query))
        tokens = [w.removesuffix("'s") for w in words]
        authors, positions = self.directory.match_tokens(tokens)
        return QueryFilters(
            query=_strip_positions(query, positions),
            authors=tuple(authors),
            categories=categories_in(query),
            dates=parse_time_scope(query),
        )


_LLM_SYSTEM = (
    "You extract search filters from a user's question. Answer with one JSON object and "
    'nothing else: {"author": <the full or partial name of the person whose writing the '
    'question asks about, or null>, "category": <"articles", "posts", "repositories" or null '
    "when the question does not restrict the kind of content>}."
)


class _LLMFilters(BaseModel):
    """The LLM's answer; a field that is not a string counts as no filter."""

    author: str | None = None
    category: str | None = None

    @field_validator("author", "category", mode="before")
    @classmethod
    def _strings_only(cls, value: object) -> str | None:
        return value if isinstance(value, str) else None


#: Greedy and short: the answer is one small JSON object.
_LLM_PARAMS = GenerationParams(max_new_tokens=80, temperature=0.0, top_p=1.0)


class LLMSelfQuery:
    """Self-query by an LLM, resolved against the known authors; falls back to the rules when
    the LLM fails or answers something unusable (logged as a warning).

    Args:
        llm: The chat model.
        directory: The known authors (an LLM answer naming anyone else is ignored).
    """

    def __init__(self, llm: LLMBackend, directory: AuthorDirectory) -> None:
        self.llm = llm
        self.directory = directory
        self._rules = RuleSelfQuery(directory)

    def extract(self, query: str) -> QueryFilters:
        rules = self._rules.extract(query)
        try:
            answer = complete_json(
                self.llm, chat(_LLM_SYSTEM, query), _LLMFilters, params=_LLM_PARAMS
            )
        except LLMError as error:
            logger.warning("LLM self-query failed, using the rule-based filters: {}", error)
            return rules
        if answer is None:
            logger.warning("LLM self-query answered no filters JSON, using the rule-based filters")
            return rules
        authors: tuple[Author, ...] = ()
        name = answer.author
        if name and name.strip():
            try:
                authors = tuple(self.directory.resolve(name))
            except InvalidInput:
                logger.info("LLM self-query named an unknown author {!r}; no author filter", name)
        categories: tuple[DataCategory, ...] = ()
        category = answer.category
        if category and category.strip():
            try:
                categories = (DataCategory.parse(category),)
            except ValueError:
                logger.info("LLM self-query named an unknown category {!r}", category)
        search_text = rules.query if authors and set(authors) == set(rules.authors) else query
        return QueryFilters(
            query=search_text, authors=authors, categories=categories, dates=rules.dates
        )
