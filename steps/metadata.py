"""How steps report what they did: counts that end up in the run's JSON summary line.

Every step that counts things calls :func:`record_counts`; ``tools/run.py`` sums the ``counts``
metadata of all steps of a run into ``{"counts": {...}}``.
"""

from typing import Any


def record_counts(extra: dict[str, Any] | None = None, **counts: int | float) -> None:
    """Attach ``counts`` (and any ``extra`` metadata) to the running step in ZenML."""
    from zenml import log_metadata

    metadata: dict[str, Any] = {"counts": dict(counts)}
    if extra:
        metadata.update(extra)
    log_metadata(metadata=metadata)
