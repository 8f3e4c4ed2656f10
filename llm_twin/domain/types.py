"""Enumerations shared by every layer, and the table of what the domain knows of each data
category (:data:`CATEGORY_INFO`).

Adding a category: a :class:`DataCategory` member and its :data:`CATEGORY_INFO` row here, its
raw document class in ``domain/documents.py`` (``category = DataCategory.X``: the collection
follows from the row) and its handlers row in ``application/preprocessing/handlers.py``
(cleaning, chunking levels and sizes).
"""

from dataclasses import dataclass
from enum import StrEnum


class DataCategory(StrEnum):
    """Kinds of content the twin learns from.

    The value is the category name used in payloads and configs; :meth:`collection` gives the
    warehouse collection that stores raw documents of this category.
    """

    ARTICLES = "articles"
    POSTS = "posts"
    REPOSITORIES = "repositories"

    @property
    def info(self) -> "CategoryInfo":
        """This category's row of :data:`CATEGORY_INFO`."""
        return CATEGORY_INFO[self]

    @property
    def collection(self) -> str:
        """Name of the MongoDB collection holding raw documents of this category."""
        return self.info.collection

    @classmethod
    def from_collection(cls, collection: str) -> "DataCategory":
        """Inverse of :attr:`collection`; raises ``ValueError`` naming the unknown collection."""
        for category, info in CATEGORY_INFO.items():
            if info.collection == collection:
                return category
        known = ", ".join(info.collection for info in CATEGORY_INFO.values())
        raise ValueError(f"unknown collection {collection!r} (known: {known})")

    @classmethod
    def parse(cls, value: str) -> "DataCategory":
        """Accept a category in any common spelling: ``article``, ``Articles``, ``code``…"""
        normalized = value.strip().lower()
        for category, info in CATEGORY_INFO.items():
            if normalized in info.aliases:
                return category
        try:
            return cls(normalized)
        except ValueError:
            known = ", ".join(c.value for c in cls)
            raise ValueError(f"unknown data category {value!r} (known: {known})") from None


@dataclass(frozen=True)
class CategoryInfo:
    """What the domain knows of one data category.

    Attributes:
        collection: The warehouse (MongoDB) collection of its raw documents.
        aliases: Other spellings :meth:`DataCategory.parse` accepts (lower case).
    """

    collection: str
    aliases: tuple[str, ...] = ()


#: One row per category: adding a category starts here.
CATEGORY_INFO: dict[DataCategory, CategoryInfo] = {
    DataCategory.ARTICLES: CategoryInfo("articles", aliases=("article",)),
    DataCategory.POSTS: CategoryInfo("posts", aliases=("post",)),
    DataCategory.REPOSITORIES: CategoryInfo(
        "repositories", aliases=("repository", "repo", "repos", "code")
    ),
}
