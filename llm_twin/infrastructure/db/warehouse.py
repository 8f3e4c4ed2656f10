"""The data warehouse: a small repository layer over the pymongo API.

One code path for every backend: a real MongoDB (``DATABASE_HOST``) or the embedded
MongoDB-compatible server. Each collection gets a :class:`DocumentRepository` that validates
with the domain models, upserts by natural key and creates its indexes on first use.
"""

import datetime as dt
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import pymongo
from pymongo.database import Database

from llm_twin.domain.documents import (
    CONTENT_DOCUMENT_TYPES,
    ContentDocument,
    UserDocument,
    split_full_name,
)
from llm_twin.domain.types import DataCategory

DocumentT = TypeVar("DocumentT", bound=ContentDocument)


@dataclass(frozen=True)
class UpsertResult:
    """What a bulk upsert did: counts of inserted, updated and unchanged records."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.unchanged

    def __add__(self, other: "UpsertResult") -> "UpsertResult":
        return UpsertResult(
            self.inserted + other.inserted,
            self.updated + other.updated,
            self.unchanged + other.unchanged,
        )


#: Store-maintained integer copy of ``updated_at`` in epoch milliseconds. Range queries use it
#: because the embedded server (nx-27017 0.8) compares dates at whole-second precision only.
UPDATED_MS = "updated_at_ms"


def _now() -> dt.datetime:
    # Millisecond precision: BSON dates store milliseconds, so round-trips compare equal.
    now = dt.datetime.now(dt.UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000, tzinfo=None)


def epoch_ms(moment: dt.datetime) -> int:
    """Milliseconds since the epoch; naive datetimes are taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)


class UserRepository:
    """Users, keyed by (first name, last name)."""

    def __init__(self, database: Database) -> None:
        self._collection = database[UserDocument.collection]
        self._indexed = False

    def _ensure_indexes(self) -> None:
        if not self._indexed:
            self._collection.create_index(
                [("first_name", pymongo.ASCENDING), ("last_name", pymongo.ASCENDING)],
                unique=True,
                name="full_name_unique",
            )
            self._indexed = True

    def get_or_create(self, full_name: str) -> tuple[UserDocument, bool]:
        """The user named ``full_name``, created if missing; returns (user, created)."""
        first_name, last_name = split_full_name(full_name)
        existing = self.find_by_name(first_name, last_name)
        if existing is not None:
            return existing, False
        user = UserDocument(first_name=first_name, last_name=last_name)
        try:
            self._collection.insert_one(user.to_mongo())
        except pymongo.errors.DuplicateKeyError:
            # Another writer created it between our find and insert: use theirs.
            existing = self.find_by_name(first_name, last_name)
            assert existing is not None
            return existing, False
        return user, True

    def find_by_name(self, first_name: str, last_name: str = "") -> UserDocument | None:
        """Exact lookup by first and last name."""
        self._ensure_indexes()
        found = self._collection.find_one({"first_name": first_name, "last_name": last_name})
        return UserDocument.from_mongo(found) if found else None

    def find_by_full_name(self, full_name: str) -> UserDocument | None:
        """Exact lookup by full name (split like :meth:`UserDocument.from_full_name`)."""
        return self.find_by_name(*split_full_name(full_name))

    def get(self, user_id: uuid.UUID | str) -> UserDocument | None:
        found = self._collection.find_one({"_id": str(user_id)})
        return UserDocument.from_mongo(found) if found else None

    def all(self) -> list[UserDocument]:
        return [UserDocument.from_mongo(doc) for doc in self._collection.find().sort("_id", 1)]

    def upsert_many(self, users: Iterable[UserDocument]) -> UpsertResult:
        """Insert users missing by name; existing names keep their stored id."""
        self._ensure_indexes()
        result = UpsertResult()
        for user in users:
            existing = self.find_by_name(user.first_name, user.last_name)
            if existing is None:
                self._collection.insert_one(user.to_mongo())
                result += UpsertResult(inserted=1)
            else:
                result += UpsertResult(unchanged=1)
        return result

    def count(self) -> int:
        return self._collection.count_documents({})

    def delete(self, user_id: uuid.UUID | str) -> bool:
        return self._collection.delete_one({"_id": str(user_id)}).deleted_count == 1


class DocumentRepository(Generic[DocumentT]):
    """Raw documents of one category, keyed by ``link`` (unique per collection)."""

    def __init__(self, database: Database, document_type: type[DocumentT]) -> None:
        self.document_type = document_type
        self._collection = database[document_type.collection]
        self._indexed = False

    def _ensure_indexes(self) -> None:
        if self._indexed:
            return
        self._collection.create_index("link", unique=True, name="link_unique")
        self._collection.create_index("author_id", name="author_id")
        self._collection.create_index(UPDATED_MS, name=UPDATED_MS)
        self._indexed = True

    def save(self, document: DocumentT) -> UpsertResult:
        """Insert or update one document by its link (see :meth:`upsert_many`)."""
        return self.upsert_many([document])

    def upsert_many(self, documents: Sequence[DocumentT]) -> UpsertResult:
        """Upsert by ``link``: new links are inserted, changed content updated in place.

        A document whose link is already stored keeps the stored id; it is rewritten (and its
        ``updated_at`` bumped) only if its content hash or metadata differ, so importing or
        crawling the same data twice changes nothing.
        """
        self._ensure_indexes()
        if not documents:
            return UpsertResult()
        links = [doc.link for doc in documents]
        if len(set(links)) != len(links):
            duplicates = sorted({link for link in links if links.count(link) > 1})
            raise ValueError(f"duplicate links in one batch: {duplicates[:5]}")
        stored = {doc["link"]: doc for doc in self._collection.find({"link": {"$in": links}})}
        inserts, updates, unchanged = [], [], 0
        now = _now()
        for document in documents:
            record = document.to_mongo()
            record["updated_at"] = now
            record[UPDATED_MS] = epoch_ms(now)
            previous = stored.get(document.link)
            if previous is None:
                inserts.append(pymongo.InsertOne(record))
                continue
            record.pop("_id")
            if _same_record(previous, record):
                unchanged += 1
                continue
            updates.append(pymongo.UpdateOne({"_id": previous["_id"]}, {"$set": record}))
        if inserts or updates:
            self._collection.bulk_write([*inserts, *updates], ordered=True)
        return UpsertResult(inserted=len(inserts), updated=len(updates), unchanged=unchanged)

    def get(self, document_id: uuid.UUID | str) -> DocumentT | None:
        found = self._collection.find_one({"_id": str(document_id)})
        return self._load(found) if found else None

    def _load(self, stored: dict[str, Any]) -> DocumentT:
        stored.pop(UPDATED_MS, None)
        return self.document_type.from_mongo(stored)

    def get_by_link(self, link: str) -> DocumentT | None:
        self._ensure_indexes()
        found = self._collection.find_one({"link": link})
        return self._load(found) if found else None

    def links(self) -> set[str]:
        """Every stored link (cheap projection; used to skip already-crawled links)."""
        return {doc["link"] for doc in self._collection.find({}, {"link": 1})}

    def find(
        self,
        *,
        author_id: uuid.UUID | str | None = None,
        author_full_name: str | None = None,
        platform: str | None = None,
        updated_since: dt.datetime | None = None,
        limit: int = 0,
    ) -> Iterator[DocumentT]:
        """Documents matching every given filter, oldest update first."""
        query = _filters(author_id, author_full_name, platform, updated_since)
        cursor = self._collection.find(query).sort([(UPDATED_MS, 1), ("_id", 1)])
        if limit:
            cursor = cursor.limit(limit)
        for found in cursor:
            yield self._load(found)

    def hashes(
        self,
        *,
        author_id: uuid.UUID | str | None = None,
        author_full_name: str | None = None,
        platform: str | None = None,
    ) -> dict[str, str]:
        """``{document id: content hash}`` for every stored document matching the filters."""
        query = _filters(author_id, author_full_name, platform, None)
        return {
            doc["_id"]: doc.get("content_hash", "")
            for doc in self._collection.find(query, {"content_hash": 1})
        }

    def get_many(self, document_ids: Sequence[uuid.UUID | str]) -> list[DocumentT]:
        """The stored documents among ``document_ids`` (missing ids are left out), in id order."""
        if not document_ids:
            return []
        query = {"_id": {"$in": [str(i) for i in document_ids]}}
        return [self._load(found) for found in self._collection.find(query).sort("_id", 1)]

    def count(
        self,
        *,
        author_id: uuid.UUID | str | None = None,
        author_full_name: str | None = None,
        platform: str | None = None,
        updated_since: dt.datetime | None = None,
    ) -> int:
        query = _filters(author_id, author_full_name, platform, updated_since)
        return self._collection.count_documents(query)

    def delete(self, document_id: uuid.UUID | str) -> bool:
        return self._collection.delete_one({"_id": str(document_id)}).deleted_count == 1


def _filters(
    author_id: uuid.UUID | str | None,
    author_full_name: str | None,
    platform: str | None,
    updated_since: dt.datetime | None,
) -> dict[str, Any]:
    query: dict[str, Any] = {}
    if author_id is not None:
        query["author_id"] = str(author_id)
    if author_full_name is not None:
        query["author_full_name"] = author_full_name
    if platform is not None:
        query["platform"] = platform
    if updated_since is not None:
        query[UPDATED_MS] = {"$gt": epoch_ms(updated_since)}
    return query


def _same_record(previous: dict[str, Any], record: dict[str, Any]) -> bool:
    ignored = {"_id", "updated_at", UPDATED_MS}
    keys = (set(previous) | set(record)) - ignored
    return all(previous.get(key) == record.get(key) for key in keys)


class Warehouse:
    """The warehouse's repositories over one pymongo database.

    Build it with :func:`llm_twin.infrastructure.db.mongo.open_warehouse` (which picks the
    embedded or configured server) or directly from any ``pymongo.database.Database``.
    """

    def __init__(self, database: Database) -> None:
        self.database = database
        self.users = UserRepository(database)
        self._documents: dict[DataCategory, DocumentRepository[Any]] = {
            doc_type.category: DocumentRepository(database, doc_type)
            for doc_type in CONTENT_DOCUMENT_TYPES
        }

    def documents(self, category: DataCategory | str) -> DocumentRepository[Any]:
        """The repository of raw documents of ``category``."""
        if isinstance(category, str):
            category = DataCategory.parse(category)
        return self._documents[category]

    @property
    def articles(self) -> DocumentRepository[Any]:
        return self._documents[DataCategory.ARTICLES]

    @property
    def posts(self) -> DocumentRepository[Any]:
        return self._documents[DataCategory.POSTS]

    @property
    def repositories(self) -> DocumentRepository[Any]:
        return self._documents[DataCategory.REPOSITORIES]

    def counts(self) -> dict[str, int]:
        """Documents per collection, users included."""
        counts = {"users": self.users.count()}
        for category, repository in self._documents.items():
            counts[category.collection] = repository.count()
        return counts
