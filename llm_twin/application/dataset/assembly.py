"""From generated rows to the saved dataset: filters, split by document, grounding,
decontamination."""

from collections.abc import Mapping, Sequence
from typing import Any

from llm_twin.application.dataset import filters
from llm_twin.application.dataset.filters import FilterConfig, FilterReport
from llm_twin.application.dataset.grounding import TEMPLATE as GROUNDED
from llm_twin.application.dataset.grounding import ground
from llm_twin.application.dataset.split import split_documents

Row = dict[str, Any]


def assemble(
    rows: Sequence[Row],
    config: FilterConfig,
    test_size: float,
    seed: int,
    report: FilterReport | None = None,
    grounding: Mapping[str, int] | None = None,
) -> tuple[list[Row], list[Row], FilterReport]:
    """Filter, split by document (stratified by category), ground and decontaminate.

    Rows from user feedback (``origin == "feedback"``) are the user's own corrections: they
    skip the length/language/boilerplate filters, are deduplicated against each other, and go
    to train. ``grounded_qa`` rows get their retrieved context after the split, from passages
    of their own split (:func:`~llm_twin.application.dataset.grounding.ground`), so no
    training prompt quotes a test document.

    Args:
        rows: Generated rows (plus feedback rows).
        config: The filters.
        test_size: Fraction of documents per category in test.
        seed: Split and grounding seed.
        report: Drop counts to add to (default: a new report).
        grounding: ``{"distractors", "context_chars"}`` for grounded rows (default: 2 and the
            ``LLM_CONTEXT_CHARS`` setting).

    Returns:
        ``(train, test, report)``; the report counts every filter's drops.
    """
    report = report or FilterReport()
    authored = [row for row in rows if row.get("origin") != "feedback"]
    corrections = [row for row in rows if row.get("origin") == "feedback"]
    kept, report = filters.apply_filters(list(authored), config, report)
    train, test = split_documents(kept, test_size, seed)
    if any(row.get("template") == GROUNDED for row in kept):
        options = _grounding_options(grounding)
        train = ground(train, seed=seed, **options)
        test = ground(test, seed=seed, **options)
    train = filters.decontaminate(train, test, config, report)
    if corrections:
        corrections = filters.exact_dedup(corrections, FilterReport())
        train.extend(corrections)
    return train, test, report


def _grounding_options(grounding: Mapping[str, int] | None) -> dict[str, int]:
    options = dict(grounding or {})
    if "context_chars" not in options:
        from llm_twin.settings import get_settings

        options["context_chars"] = get_settings().llm.context_chars
    options.setdefault("distractors", 2)
    return options


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
