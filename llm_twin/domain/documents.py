"""Raw documents as collected from a user's links and kept in the warehouse."""

import datetime as dt
import hashlib
import json
import uuid
from typing import Any, ClassVar

from pydantic import Field, computed_field, field_validator

from llm_twin.domain.base import Entity
from llm_twin.domain.types import DataCategory


class UserDocument(Entity):
    """An author whose writing the twin learns from.

    Attributes:
        first_name: Given name, e.g. ``"Maxime"``.
        last_name: Family name(s), e.g. ``"Labonne"``; may be empty for one-word names.
    """

    collection: ClassVar[str] = "users"

    first_name: str = Field(min_length=1)
    last_name: str = ""

    @field_validator("first_name", "last_name")
    @classmethod
    def _strip(cls, value: str) -> str:
        return " ".join(value.split())

    @property
    def full_name(self) -> str:
        """First and last name joined by a space (the user's natural key)."""
        return f"{self.first_name} {self.last_name}".strip()

    @classmethod
    def from_full_name(cls, full_name: str) -> "UserDocument":
        """Split ``"First Last Names"`` on the first space: ``first_name="First"``."""
        first, last = split_full_name(full_name)
        return cls(first_name=first, last_name=last)


def split_full_name(full_name: str) -> tuple[str, str]:
    """Split a full name into (first name, remaining names); raise ``ValueError`` if empty."""
    parts = full_name.split()
    if not parts:
        raise ValueError("a user's full name must not be empty")
    return parts[0], " ".join(parts[1:])


class ContentDocument(Entity):
    """Common shape of everything crawled for a user.

    Attributes:
        content: The crawled content, a mapping of string keys (``Title``, ``Subtitle``,
            ``Content`` for articles; ``path -> file text`` under ``files`` for repositories).
        platform: Where it was published (``medium``, ``substack``, ``linkedin``, ``github``…).
        link: Canonical URL; unique per collection (the natural key for upserts).
        author_id: Id of the :class:`UserDocument` who wrote it.
        author_full_name: The author's full name, denormalised for filters and display.
        crawled_at: When the crawler fetched it (``None`` for imported data without the field).
        updated_at: When the warehouse last changed this record (maintained by the store).
    """

    category: ClassVar[DataCategory]
    #: The category's warehouse collection (from ``CATEGORY_INFO``, set per subclass).
    collection: ClassVar[str]
    computed_fields_on_load: ClassVar[frozenset[str]] = frozenset({"content_hash"})
    export_excluded_fields: ClassVar[frozenset[str]] = frozenset({"content_hash", "updated_at"})

    content: dict[str, Any]
    platform: str = Field(min_length=1)
    link: str = Field(min_length=1)
    author_id: uuid.UUID
    author_full_name: str = Field(min_length=1)
    crawled_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: object) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        # A document class names its category; where it is stored follows from the table.
        if "category" in cls.__dict__:
            cls.collection = cls.category.collection

    @field_validator("content")
    @classmethod
    def _content_keys_are_strings(cls, value: dict[str, Any]) -> dict[str, Any]:
        bad = [key for key in value if not isinstance(key, str)]
        if bad:
            raise ValueError(f"content keys must be strings, got {bad!r}")
        return value

    @computed_field  # type: ignore[prop-decorator]
    @property
    def content_hash(self) -> str:
        """SHA-256 of the canonical JSON of ``content``: changes exactly when the content does."""
        canonical = json.dumps(self.content, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ArticleDocument(ContentDocument):
    """A blog article (Medium, Substack, personal site)."""

    category: ClassVar[DataCategory] = DataCategory.ARTICLES


class PostDocument(ContentDocument):
    """A short social post (LinkedIn). ``image`` is an optional image URL."""

    category: ClassVar[DataCategory] = DataCategory.POSTS

    image: str | None = None


class RepositoryDocument(ContentDocument):
    """A code repository: ``content`` maps file paths to their text.

    Attributes:
        name: Repository name (``owner/name`` or the last URL segment).
        commit: Commit SHA the files were read at, when known.
    """

    category: ClassVar[DataCategory] = DataCategory.REPOSITORIES

    name: str = Field(min_length=1)
    commit: str | None = None


CONTENT_DOCUMENT_TYPES: tuple[type[ContentDocument], ...] = (
    ArticleDocument,
    PostDocument,
    RepositoryDocument,
)


def document_type_for(category: DataCategory | str) -> type[ContentDocument]:
    """The raw document class that stores ``category``."""
    category = DataCategory.parse(category) if isinstance(category, str) else category
    for document_type in CONTENT_DOCUMENT_TYPES:
        if document_type.category is category:
            return document_type
    raise ValueError(f"no document type for category {category!r}")  # pragma: no cover
