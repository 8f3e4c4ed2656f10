"""Import and export the warehouse as JSON: one file per collection, a list of documents each.

The format is the reference project's export (``UserDocument.json``, ``ArticleDocument.json``,
``PostDocument.json``, ``RepositoryDocument.json``), with ``_id`` as a UUID string. Every record
is validated before anything is written, so a bad record never leaves a file half-imported.
"""

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from llm_twin.application.crawlers.links import strip_credentials
from llm_twin.domain.base import Entity
from llm_twin.domain.documents import (
    ArticleDocument,
    ContentDocument,
    PostDocument,
    RepositoryDocument,
    UserDocument,
)
from llm_twin.domain.exceptions import InvalidInput
from llm_twin.infrastructure.db.warehouse import UpsertResult, Warehouse

#: File name -> entity type, in import order (users first: documents refer to them).
JSON_FILES: dict[str, type[Entity]] = {
    "UserDocument.json": UserDocument,
    "ArticleDocument.json": ArticleDocument,
    "PostDocument.json": PostDocument,
    "RepositoryDocument.json": RepositoryDocument,
}

#: The sample corpus shipped with the package (2 users, 76 articles; MIT, see its README.md).
SAMPLE_DIR = Path(__file__).resolve().parents[1] / "sample_data" / "warehouse"


@dataclass(frozen=True)
class ParsedFile:
    """A validated JSON file: its path and entities."""

    path: Path
    entities: list[Entity]


def parse_file(path: Path, entity_type: type[Entity]) -> ParsedFile:
    """Read and validate every record of ``path``.

    Raises:
        InvalidInput: the file is unreadable, not a JSON list, or a record is invalid; the
            message names the file, the record's position and ``_id``, and the bad fields.
    """
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise InvalidInput(f"{path}: cannot read file ({error.strerror})") from None
    except UnicodeDecodeError as error:
        raise InvalidInput(
            f"{path}: not UTF-8 text (invalid byte 0x{error.object[error.start]:02x} at offset "
            f"{error.start}); save the file as UTF-8"
        ) from None
    except json.JSONDecodeError as error:
        raise InvalidInput(
            f"{path}: invalid JSON at line {error.lineno} column {error.colno}: {error.msg}"
        ) from None
    if not isinstance(raw, list):
        raise InvalidInput(f"{path}: expected a JSON list of documents, got {type(raw).__name__}")
    entities = []
    for position, record in enumerate(raw):
        if not isinstance(record, dict):
            raise InvalidInput(f"{path}: record {position} is not a JSON object")
        if isinstance(record.get("link"), str):
            # Exports from before links were cleaned may carry user:password@ in them.
            record = {**record, "link": strip_credentials(record["link"])}
        try:
            entities.append(entity_type.from_mongo(record))
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in issue['loc']) or '<record>'}: {issue['msg']}"
                for issue in error.errors()
            )
            record_id = record.get("_id", "<no _id>")
            raise InvalidInput(
                f"{path}: record {position} (_id={record_id}) is not a valid "
                f"{entity_type.__name__}: {problems}"
            ) from None
    return ParsedFile(path, entities)


def read_directory(directory: Path) -> list[ParsedFile]:
    """Validate every known JSON file in ``directory`` (missing files are skipped, but at least
    one must exist), including unique links per collection, before anything is written."""
    if not directory.is_dir():
        raise InvalidInput(f"{directory}: not a directory")
    parsed = [
        parse_file(directory / name, entity_type)
        for name, entity_type in JSON_FILES.items()
        if (directory / name).exists()
    ]
    if not parsed:
        raise InvalidInput(f"{directory}: none of {', '.join(JSON_FILES)} found")
    for file in parsed:
        if JSON_FILES[file.path.name] is not UserDocument:
            _check_unique_links(file)
    return parsed


def import_directory(warehouse: Warehouse, directory: Path) -> dict[str, UpsertResult]:
    """Upsert every file of ``directory`` into ``warehouse``; idempotent.

    All files are validated before the first write. Returns an :class:`UpsertResult` per
    collection.
    """
    results: dict[str, UpsertResult] = {}
    for parsed in read_directory(directory):
        entity_type = JSON_FILES[parsed.path.name]
        if entity_type is UserDocument:
            results["users"] = warehouse.users.upsert_many(parsed.entities)  # type: ignore[arg-type]
        else:
            assert issubclass(entity_type, ContentDocument)
            repository = warehouse.documents(entity_type.category)
            results[entity_type.collection] = repository.upsert_many(parsed.entities)
    return results


def _check_unique_links(parsed: ParsedFile) -> None:
    seen: dict[str, int] = {}
    for position, entity in enumerate(parsed.entities):
        link = entity.link  # type: ignore[attr-defined]
        if link in seen:
            raise InvalidInput(
                f"{parsed.path}: records {seen[link]} and {position} share the link {link!r} "
                "(links are unique per collection)"
            )
        seen[link] = position


def export_directory(warehouse: Warehouse, directory: Path) -> dict[str, int]:
    """Write every collection to ``directory`` in the import format; return records per file.

    Files are written atomically (temp file + rename); records are sorted by ``_id``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    written: dict[str, int] = {}
    for name, entity_type in JSON_FILES.items():
        if entity_type is UserDocument:
            records = [user.to_export() for user in warehouse.users.all()]
        else:
            repository = warehouse.documents(entity_type.category)  # type: ignore[attr-defined]
            records = [doc.to_export() for doc in repository.find()]
        records.sort(key=lambda record: record["_id"])
        _write_atomically(directory / name, records)
        written[name] = len(records)
    return written


def _write_atomically(path: Path, records: list[dict[str, Any]]) -> None:
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as output:
            json.dump(records, output)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
