"""Train/test split by document (never by sample), stratified by category, seeded."""

import random
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from llm_twin.domain.exceptions import InvalidInput

Row = dict[str, Any]


def split_documents(
    rows: Sequence[Row], test_size: float, seed: int
) -> tuple[list[Row], list[Row]]:
    """Assign whole documents to train or test.

    Within each category, ``round(test_size * documents)`` documents (at least one when the
    category has two or more documents and ``test_size > 0``) go to test, picked by a
    ``random.Random(seed)`` shuffle of the sorted document ids, so the split repeats exactly.
    Rows without a ``document_id`` (e.g. user corrections) always go to train.

    Args:
        rows: Sample rows with ``document_id`` and ``category``.
        test_size: Fraction of documents per category in test, in ``[0, 1)``.
        seed: Shuffle seed.

    Returns:
        ``(train, test)`` rows, each in the input order.
    """
    if not 0 <= test_size < 1:
        raise InvalidInput(f"test_size must be in [0, 1), got {test_size}")
    documents: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        if row.get("document_id"):
            documents[str(row.get("category", ""))].add(str(row["document_id"]))
    rng = random.Random(seed)
    test_documents: set[str] = set()
    for category in sorted(documents):
        ids = sorted(documents[category])
        rng.shuffle(ids)
        count = round(test_size * len(ids))
        if test_size > 0 and len(ids) >= 2:
            count = min(max(count, 1), len(ids) - 1)
        test_documents.update(ids[:count])
    train = [row for row in rows if str(row.get("document_id") or "") not in test_documents]
    test = [row for row in rows if str(row.get("document_id") or "") in test_documents]
    return train, test
