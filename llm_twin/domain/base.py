"""Base class of every entity the warehouse or the vector store persists."""

import uuid
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field


class Entity(BaseModel):
    """A validated record with a UUID identity.

    The id is stored as ``_id`` (a UUID string) so the warehouse's JSON export matches the
    MongoDB documents one to one. Persistence lives in :mod:`llm_twin.infrastructure`; entities
    know nothing about connections.
    """

    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=False)

    #: Computed fields: recomputed from the other fields, so ignored when loading.
    computed_fields_on_load: ClassVar[frozenset[str]] = frozenset()
    #: Fields left out of JSON exports (computed or maintained by the store).
    export_excluded_fields: ClassVar[frozenset[str]] = frozenset()

    id: uuid.UUID = Field(default_factory=uuid.uuid4, alias="_id")

    def to_mongo(self) -> dict[str, Any]:
        """The document as stored in MongoDB: ``_id`` and UUIDs as strings, datetimes as-is."""
        data = self.model_dump(by_alias=True, mode="python")
        return _stringify_uuids(data)

    def to_export(self) -> dict[str, Any]:
        """The document in the interchange JSON format (no derived fields, no unset timestamps)."""
        data = self.model_dump(by_alias=True, mode="json", exclude=set(self.export_excluded_fields))
        return {key: value for key, value in data.items() if value is not None or key == "content"}

    @classmethod
    def from_mongo(cls, data: dict[str, Any]) -> Self:
        """Build an entity from a stored or exported document (computed fields are recomputed)."""
        payload = {
            key: value for key, value in data.items() if key not in cls.computed_fields_on_load
        }
        return cls.model_validate(payload)


def _stringify_uuids(value: Any) -> Any:  # any JSON-like value, nested
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {key: _stringify_uuids(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_stringify_uuids(item) for item in value]
    return value
