"""From generated rows to the saved dataset: filters, split by document, decontamination."""

from collections.abc import Sequence
from typing import Any

from llm_twin.application.dataset import filters
from llm_twin.application.dataset.filters import FilterConfig, FilterReport
from llm_twin.application.dataset.split import split_documents

Row = dict[str, Any]


def assemble(
    rows: Sequence[Row],
    config: FilterConfig,
    test_size: float,
    seed: int,
    report: FilterReport | None = None,
) -> tuple[list[Row], list[Row], FilterReport]:
    """Filter, split by document (stratified by category) and decontaminate.

    Rows from user feedback (``origin == "feedback"``) are the user's own corrections: they
    skip the length/language/boilerplate filters, are deduplicated against each other, and go
    to train.

    Returns:
        ``(train, test, report)``; the report counts every filter's drops.
    """
    report = report or FilterReport()
    authored = [row for row in rows if row.get("origin") != "feedback"]
    corrections = [row for row in rows if row.get("origin") == "feedback"]
    kept, report = filters.apply_filters(list(authored), config, report)
    train, test = split_documents(kept, test_size, seed)
    train = filters.decontaminate(train, test, config, report)
    if corrections:
        corrections = filters.exact_dedup(corrections, FilterReport())
        train.extend(corrections)
    return train, test, report


def columns(rows: Sequence[Row]) -> list[str]:
    """Every column any row has, in first-seen order."""
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    return list(names)


def to_dataset_dict(train: Sequence[Row], test: Sequence[Row], required: Sequence[str]) -> Any:
    """A ``datasets.DatasetDict`` with ``train`` and ``test`` (same columns in both, even
    when a split is empty)."""
    from datasets import Dataset, DatasetDict

    names = columns([*train, *test]) or list(required)
    for name in required:
        if name not in names:
            names.append(name)

    def build(rows: Sequence[Row]) -> Any:
        return Dataset.from_dict({name: [row.get(name) for row in rows] for name in names})

    return DatasetDict({"train": build(train), "test": build(test)})
