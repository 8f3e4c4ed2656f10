"""Preference step: user corrections collected by the inference service."""

from pathlib import Path
from typing import Annotated, Any

from zenml import step

from steps.metadata import record_counts


# Never cached: the service keeps appending feedback.
@step(enable_cache=False)
def collect_feedback_pairs(
    include_feedback: bool = True, feedback_dir: str | None = None
) -> Annotated[list[dict[str, Any]], "feedback_pairs"]:
    """Corrections (feedback with a suggested answer) as preference rows, origin ``feedback``.

    Args:
        include_feedback: Off: return nothing.
        feedback_dir: Folder of ``traces.jsonl`` and ``feedback.jsonl`` (default: the
            ``TRACES_DIR`` setting, ``DATA_DIR/traces``).
    """
    from llm_twin.application.dataset.feedback import correction_rows
    from llm_twin.settings import get_settings

    rows: list[dict[str, Any]] = []
    if include_feedback:
        rows = correction_rows(Path(feedback_dir) if feedback_dir else get_settings().traces_dir)
    record_counts(feedback_pairs=len(rows))
    return rows
