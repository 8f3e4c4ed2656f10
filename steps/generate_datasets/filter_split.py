"""Dataset step: quality filters, split by document, decontamination."""

from typing import Annotated, Any

from zenml import step

from pipelines.configs import DatasetSplit
from steps.generate_datasets.common import template_counts
from steps.metadata import record_counts


@step
def filter_and_split(
    samples: dict[str, Any],
    feedback_pairs: list[dict[str, Any]] | None,
    split: DatasetSplit,
) -> Annotated[dict[str, Any], "dataset_splits"]:
    """Filter the generated rows, split them by document (stratified by category) and remove
    train rows that overlap the test split.

    Args:
        samples: Output of a generation step (``{"rows", "generators", "counts"}``, and
            ``grounding`` when grounded question samples need their context).
        feedback_pairs: Preference rows from user corrections (train only).
        split: The ``filters`` (``FilterConfig`` settings: length, languages, boilerplate,
            near_dup…), ``test_size`` (fraction of documents per category in test) and
            ``seed``. Its fields are this cached step's parameters.

    Returns:
        ``{"train", "test", "generators", "counts", "filters"}``.
    """
    from dataclasses import asdict

    from llm_twin.application.dataset.assembly import assemble
    from llm_twin.application.dataset.filters import FilterConfig

    config = FilterConfig.from_dict(split.filters)
    rows = list(samples["rows"]) + list(feedback_pairs or [])
    train, test, report = assemble(
        rows, config, split.test_size, split.seed, grounding=samples.get("grounding")
    )
    counts = {
        **report.counts(),
        "train_samples": len(train),
        "test_samples": len(test),
        **{f"train_{k}": v for k, v in template_counts(train).items()},
        **{f"test_{k}": v for k, v in template_counts(test).items()},
    }
    record_counts({"seed": split.seed, "test_size": split.test_size}, **counts)
    generators = list(samples["generators"])
    if feedback_pairs:
        generators.append("user-correction")
    return {
        "train": train,
        "test": test,
        "generators": generators,
        "counts": {**samples["counts"], **counts, "feedback_pairs": len(feedback_pairs or [])},
        "filters": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()},
        "seed": split.seed,
        "test_size": split.test_size,
    }
