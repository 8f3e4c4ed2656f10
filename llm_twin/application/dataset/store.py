"""Versioned local storage of generated datasets (Hugging Face ``datasets`` format).

Layout: ``DATA_DIR/datasets/<kind>/<version>/`` holds a ``DatasetDict`` saved with
``save_to_disk`` (splits ``train`` and ``test``) and ``README.md`` (the dataset card);
``DATA_DIR/datasets/<kind>/LATEST`` names the newest version. A version is named after the
content it holds, so saving identical data twice yields the same version (idempotent).

Columns (the contract between dataset generation and training):

- ``instruct``: ``instruction``, ``answer`` (the author's text), plus ``document_id``,
  ``category``, ``author_full_name``, ``link``, ``generator`` and ``template`` (the kind of
  instruction: ``opening``, ``section``, ``continuation``, ``post``, ``code``, ``grounded_qa``,
  ``keyphrase``, or the LLM generator's kind); ``grounded_qa`` rows also carry ``question``
  and ``context`` (their ``instruction`` is the inference service's user turn built from
  both). Versions saved before ``template`` existed lack it; it is not required.
- ``preference``: ``prompt``, ``chosen`` (the author's text), ``rejected``, plus ``document_id``,
  ``category``, ``author_full_name``, ``link``, ``generator``, ``origin`` (``author`` or
  ``feedback``) and ``template`` (of the prompt).
"""

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from llm_twin.domain.exceptions import InvalidInput

if TYPE_CHECKING:
    from datasets import DatasetDict

DatasetKind = Literal["instruct", "preference"]
KINDS: tuple[str, ...] = ("instruct", "preference")
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "instruct": ("instruction", "answer"),
    "preference": ("prompt", "chosen", "rejected"),
}
SPLITS = ("train", "test")


def kind_dir(data_dir: Path, kind: str) -> Path:
    """Folder holding every version of datasets of ``kind``."""
    if kind not in KINDS:
        raise InvalidInput(f"unknown dataset kind {kind!r} (known: {', '.join(KINDS)})")
    return data_dir / "datasets" / kind


def content_hash(dataset: "DatasetDict") -> str:
    """Hash of the rows of every split (order included): equal data → equal hash."""
    digest = hashlib.sha256()
    for split in SPLITS:
        digest.update(split.encode())
        for row in dataset[split]:
            digest.update(json.dumps(row, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:12]


def validate(dataset: "DatasetDict", kind: str) -> None:
    """Check splits and required columns; raise ``InvalidInput`` naming what is missing."""
    missing_splits = [split for split in SPLITS if split not in dataset]
    if missing_splits:
        raise InvalidInput(f"{kind} dataset lacks split(s) {missing_splits}")
    for split in SPLITS:
        columns = set(dataset[split].column_names)
        missing = [c for c in REQUIRED_COLUMNS[kind] if c not in columns]
        if missing:
            raise InvalidInput(f"{kind} dataset split {split!r} lacks column(s) {missing}")


def save(data_dir: Path, kind: str, dataset: "DatasetDict", card: str) -> tuple[str, Path, bool]:
    """Save ``dataset`` (a ``DatasetDict``) with its ``card``; return (version, path, created).

    When the same content was saved before, nothing is written and ``created`` is False.
    """
    validate(dataset, kind)
    root = kind_dir(data_dir, kind)
    digest = content_hash(dataset)
    for existing in versions(data_dir, kind):
        if existing.endswith(digest):
            _set_latest(root, existing)
            return existing, root / existing, False
    version = f"{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S}-{digest}"
    target = root / version
    staging = root / f".{version}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    dataset.save_to_disk(str(staging))
    (staging / "README.md").write_text(card, encoding="utf-8")
    staging.rename(target)  # atomic: a version folder is complete or absent
    _set_latest(root, version)
    return version, target, True


def versions(data_dir: Path, kind: str) -> list[str]:
    """Saved versions of ``kind``, oldest first."""
    root = kind_dir(data_dir, kind)
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def resolve(data_dir: Path, kind: str, version: str = "latest") -> Path:
    """Folder of ``version`` (``latest`` = the newest saved); ``InvalidInput`` if absent."""
    root = kind_dir(data_dir, kind)
    if version == "latest":
        pointer = root / "LATEST"
        if not pointer.is_file():
            raise InvalidInput(
                f"no {kind} dataset under {root}: run the "
                f"generate-{'instruct' if kind == 'instruct' else 'preference'}-datasets pipeline"
            )
        version = pointer.read_text().strip()
    path = root / version
    if not path.is_dir():
        known = ", ".join(versions(data_dir, kind)) or "none"
        raise InvalidInput(f"{kind} dataset version {version!r} not found (saved: {known})")
    return path


def load(data_dir: Path, kind: str, version: str = "latest") -> Any:
    """The saved ``DatasetDict`` of ``version``."""
    from datasets import load_from_disk

    dataset = load_from_disk(str(resolve(data_dir, kind, version)))
    validate(dataset, kind)
    return dataset


def _set_latest(root: Path, version: str) -> None:
    pointer = root / "LATEST"
    temporary = root / ".LATEST.tmp"
    temporary.write_text(version)
    temporary.replace(pointer)
