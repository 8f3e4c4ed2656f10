"""Dataset step: save the splits as a versioned ``DatasetDict`` with its card."""

from typing import Annotated, Any

from zenml import log_metadata, step

from steps.metadata import record_counts


# Never cached: it writes to DATA_DIR (idempotent: the same content gives the same version).
@step(enable_cache=False)
def save_dataset(
    kind: str,
    splits: dict[str, Any],
    hub_repo_id: str = "",
    parameters: dict[str, Any] | None = None,
) -> Annotated[dict[str, Any], "dataset_version"]:
    """Save under ``DATA_DIR/datasets/<kind>/<version>`` and, when ``hub_repo_id`` and
    ``HUGGINGFACE_ACCESS_TOKEN`` are set and ``OFFLINE`` is false, push to the Hub.

    Args:
        kind: ``instruct`` or ``preference``.
        splits: Output of ``filter_and_split``.
        hub_repo_id: Hugging Face dataset repo (``user/name``); empty: local only.
        parameters: Pipeline parameters to list in the card.

    Returns:
        ``{"kind", "version", "path", "created", "train_samples", "test_samples"}``.
    """
    from loguru import logger

    from llm_twin.application.dataset import store
    from llm_twin.application.dataset.assembly import to_dataset_dict
    from llm_twin.application.dataset.card import render_card
    from llm_twin.application.dataset.export import push_to_hub
    from llm_twin.domain.exceptions import ImproperlyConfigured
    from llm_twin.settings import get_settings

    settings = get_settings()
    train, test = splits["train"], splits["test"]
    if not train:
        raise ValueError(
            f"the {kind} dataset has no train rows after filtering "
            f"(counts: {splits['counts']}): loosen the filters or use more documents"
        )
    dataset = to_dataset_dict(train, test, store.REQUIRED_COLUMNS[kind])
    card = render_card(
        kind,
        train,
        test,
        generators=splits["generators"],
        filter_settings=splits["filters"],
        counts=splits["counts"],
        seed=splits["seed"],
        test_size=splits["test_size"],
        parameters=parameters,
    )
    version, path, created = store.save(settings.storage.data_dir, kind, dataset, card)
    logger.info("{} dataset {} at {} ({})", kind, version, path, "new" if created else "unchanged")
    pushed = False
    if hub_repo_id:
        if settings.training.huggingface_access_token is None or settings.runtime.offline:
            raise ImproperlyConfigured(
                f"pushing to {hub_repo_id} needs HUGGINGFACE_ACCESS_TOKEN and OFFLINE=false"
            )
        push_to_hub(
            dataset, hub_repo_id, settings.training.huggingface_access_token.get_secret_value()
        )
        pushed = True
    result = {
        "kind": kind,
        "version": version,
        "path": str(path),
        "created": created,
        "train_samples": len(train),
        "test_samples": len(test),
        "pushed_to": hub_repo_id if pushed else "",
    }
    log_metadata(
        metadata={**result, "generators": splits["generators"], "counts": splits["counts"]},
        artifact_name="dataset_version",
        infer_artifact=True,
    )
    record_counts({"version": version, "path": str(path)}, datasets_created=int(created))
    return result
