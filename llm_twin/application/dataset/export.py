"""Exporting saved dataset versions: JSONL files, and the Hugging Face Hub when configured."""

import json
from pathlib import Path
from typing import TYPE_CHECKING

from llm_twin.application.dataset import store

if TYPE_CHECKING:
    from datasets import DatasetDict


def export_jsonl(data_dir: Path, kind: str, version: str, output_dir: Path) -> dict[str, Path]:
    """Write each split of a saved version to ``output_dir/<kind>-<version>-<split>.jsonl``.

    Args:
        data_dir: The ``DATA_DIR`` holding ``datasets/``.
        kind: ``instruct`` or ``preference``.
        version: A saved version or ``latest``.
        output_dir: Folder for the files (created).

    Returns:
        ``{split: path}``.
    """
    resolved = store.resolve(data_dir, kind, version).name
    dataset = store.load(data_dir, kind, resolved)
    output_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for split in store.SPLITS:
        path = output_dir / f"{kind}-{resolved}-{split}.jsonl"
        temporary = path.with_suffix(".jsonl.tmp")
        with temporary.open("w", encoding="utf-8") as handle:
            for row in dataset[split]:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        temporary.replace(path)
        paths[split] = path
    return paths


def push_to_hub(dataset: "DatasetDict", repo_id: str, token: str, private: bool = True) -> None:
    """Push a ``DatasetDict`` to the Hugging Face Hub (needs network and a write token)."""
    dataset.push_to_hub(repo_id, token=token, private=private)
