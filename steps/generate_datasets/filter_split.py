"""Dataset step: quality filters, split by document, decontamination."""

from typing import Annotated, Any

from zenml import step

from steps.metadata import record_counts


@step
def filter_and_split(
    samples: dict[str, Any],
    feedback_pairs: list[dict[str, Any]] | None = None,
    filters: dict[str, Any] | None = None,
    test_size: float = 0.1,
    seed: int = 42,
) -> Annotated[dict[str, Any], "dataset_splits"]:
    """Filter the generated rows, split them by document (stratified by category) and remove
    train rows that overlap the test split.

    Args:
        samples: Output of a generation step (``{"rows", "generators", "counts"}``).
        feedback_pairs: Preference rows from user corrections (train only).
        filters: ``FilterConfig`` settings (length, languages, boilerplate, near_dup…).
        test_size: Fraction of documents per category in test.
        seed: Split seed.

    Returns:
        ``{"train", "test", "generators", "counts", "filters"}``.
    """
    from dataclasses import asdict

    from llm_twin.application.dataset.assembly import assemble
    from llm_twin.application.dataset.filters import FilterConfig

    config = FilterConfig.from_dict(filters)
    rows = list(samples["rows"]) + list(feedback_pairs or [])
    train, test, report = assemble(rows, config, test_size, seed)
    counts = {**report.counts(), "train_samples": len(train), "test_samples": len(test)}
    record_counts({"seed": seed, "test_size": test_size}, **counts)
    generators = list(samples["generators"])
    if feedback_pairs:
        generators.append("user-correction")
    return {
        "train": train,
        "test": test,
        "generators": generators,
        "counts": {**samples["counts"], **counts, "feedback_pairs": len(feedback_pairs or [])},
        "filters": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()},
        "seed": seed,
        "test_size": test_size,
    }
