"""Enumerations shared by every layer."""

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
    def collection(self) -> str:
        """Name of the MongoDB collection holding raw documents of this category."""
        return _COLLECTIONS[self]

    @classmethod
    def from_collection(cls, collection: str) -> "DataCategory":
        """Inverse of :attr:`collection`; raises ``ValueError`` naming the unknown collection."""
        for category, name in _COLLECTIONS.items():
            if name == collection:
                return category
        known = ", ".join(_COLLECTIONS.values())
        raise ValueError(f"unknown collection {collection!r} (known: {known})")

    @classmethod
    def parse(cls, value: str) -> "DataCategory":
        """Accept a category in any common spelling: ``article``, ``Articles``, ``code``…"""
        normalized = value.strip().lower()
        aliases = {
            "article": cls.ARTICLES,
            "post": cls.POSTS,
            "repository": cls.REPOSITORIES,
            "repo": cls.REPOSITORIES,
            "repos": cls.REPOSITORIES,
            "code": cls.REPOSITORIES,
        }
        if normalized in aliases:
            return aliases[normalized]
        try:
            return cls(normalized)
        except ValueError:
            known = ", ".join(c.value for c in cls)
            raise ValueError(f"unknown data category {value!r} (known: {known})") from None


_COLLECTIONS = {
    DataCategory.ARTICLES: "articles",
    DataCategory.POSTS: "posts",
    DataCategory.REPOSITORIES: "repositories",
}
