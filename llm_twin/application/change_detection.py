"""What changed in the warehouse since the last continuous-training run, and whether that is
enough to train again.

A snapshot is ``{category: {document id: content hash}}``. Continuous training saves the one it
trained on (``DATA_DIR/ct/state.json``) once its stages succeed; the next run compares the
warehouse with it. No saved snapshot means nothing was trained by CT yet: every document is new.
"""

import dataclasses
import datetime as dt
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llm_twin.domain.exceptions import InvalidInput
from llm_twin.domain.types import DataCategory

if TYPE_CHECKING:
    from llm_twin.infrastructure.db.warehouse import Warehouse

Snapshot = dict[str, dict[str, str]]
STATE_FILE = "state.json"


def take_snapshot(warehouse: "Warehouse") -> Snapshot:
    """``{category: {document id: content hash}}`` of every document in ``warehouse``."""
    return {
        category.value: {
            str(key): value for key, value in warehouse.documents(category).hashes().items()
        }
        for category in DataCategory
    }


@dataclasses.dataclass(frozen=True)
class Changes:
    """Documents added, changed and deleted between two snapshots, and the current total."""

    new: int
    changed: int
    deleted: int
    total: int

    @property
    def count(self) -> int:
        """Documents that differ (new + changed + deleted)."""
        return self.new + self.changed + self.deleted

    @property
    def fraction(self) -> float:
        """``count`` relative to the documents stored now (1.0 for an emptied warehouse)."""
        return self.count / self.total if self.total else float(self.count > 0)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"count": self.count, "fraction": round(self.fraction, 4)}


def compare(previous: Snapshot | None, current: Snapshot) -> Changes:
    """The changes from ``previous`` (None: no snapshot yet, all new) to ``current``."""
    before = {
        key: value for category in (previous or {}).values() for key, value in category.items()
    }
    after = {key: value for category in current.values() for key, value in category.items()}
    return Changes(
        new=sum(1 for key in after if key not in before),
        changed=sum(1 for key, value in after.items() if key in before and before[key] != value),
        deleted=sum(1 for key in before if key not in after),
        total=len(after),
    )


@dataclasses.dataclass(frozen=True)
class Threshold:
    """When continuous training runs: at least ``min_documents`` changed documents, or at
    least ``min_fraction`` of the warehouse changed (either one suffices).

    Args:
        min_documents: Changed documents (new + changed + deleted) that trigger training.
        min_fraction: Share of the warehouse that triggers training (0 < x <= 1).
    """

    min_documents: int = 5
    min_fraction: float = 0.05

    def __post_init__(self) -> None:
        if self.min_documents < 1:
            raise InvalidInput(f"min_documents must be at least 1, got {self.min_documents}")
        if not 0 < self.min_fraction <= 1:
            raise InvalidInput(f"min_fraction must be in (0, 1], got {self.min_fraction}")

    def decide(self, changes: Changes) -> tuple[bool, str]:
        """(train?, the reason in words)."""
        if changes.count >= self.min_documents:
            return True, f"{changes.count} changed documents >= {self.min_documents}"
        if changes.count and changes.fraction >= self.min_fraction:
            return (
                True,
                f"{changes.fraction:.1%} of the warehouse changed >= {self.min_fraction:.1%}",
            )
        return False, (
            f"{changes.count} changed documents ({changes.fraction:.1%}) is below the threshold "
            f"({self.min_documents} documents or {self.min_fraction:.1%})"
        )


def state_path(data_dir: Path) -> Path:
    """``DATA_DIR/ct/state.json``."""
    return data_dir / "ct" / STATE_FILE


def load_state(data_dir: Path) -> dict[str, Any] | None:
    """The last successful CT run's record (``snapshot``, ``finished_at``, ``model_version``),
    or None before the first one.

    Raises:
        InvalidInput: the file exists but is not a CT state (it is left as it is).
    """
    path = state_path(data_dir)
    if not path.is_file():
        return None
    try:
        state = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise InvalidInput(f"{path} is not valid JSON ({error}): fix or delete it") from None
    if not isinstance(state, dict) or not isinstance(state.get("snapshot"), dict):
        raise InvalidInput(f"{path} has no 'snapshot' object: fix or delete it")
    return state


def save_state(data_dir: Path, snapshot: Snapshot, **details: object) -> Path:
    """Record ``snapshot`` as what the last successful CT run trained on (atomic write)."""
    path = state_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), **details}
    record["snapshot"] = snapshot
    temporary = path.with_name(STATE_FILE + ".tmp")
    temporary.write_text(json.dumps(record, indent=1) + "\n")
    os.replace(temporary, path)
    return path
