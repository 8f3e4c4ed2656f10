"""From the dataset store's rows to the conversational formats TRL trains on.

Every example is built with :func:`llm_twin.domain.prompts.build_messages` (the twin's system
prompt + the user turn), exactly what the inference service sends, so the model learns the format
it is served with. Training examples carry no retrieved context.
"""

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from llm_twin.domain.exceptions import InvalidInput
from llm_twin.domain.prompts import build_messages

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict


def sft_example(row: dict[str, Any]) -> dict[str, Any]:
    """One instruct row (``instruction``, ``answer``) as a conversation for ``SFTTrainer``."""
    messages = build_messages(str(row["instruction"]))
    messages.append({"role": "assistant", "content": str(row["answer"]).strip()})
    return {"messages": messages}


def dpo_example(row: dict[str, Any]) -> dict[str, Any]:
    """One preference row (``prompt``, ``chosen``, ``rejected``) as a conversational pair."""
    return {
        "prompt": build_messages(str(row["prompt"])),
        "chosen": [{"role": "assistant", "content": str(row["chosen"]).strip()}],
        "rejected": [{"role": "assistant", "content": str(row["rejected"]).strip()}],
    }


def _prepare(
    split: "Dataset",
    convert: Callable[[dict[str, Any]], dict[str, Any]],
    max_samples: int | None,
    seed: int,
    name: str,
) -> "Dataset":
    if len(split) == 0:
        raise InvalidInput(f"the {name} split is empty: nothing to train on")
    if max_samples is not None and len(split) > max_samples:
        split = split.shuffle(seed=seed).select(range(max_samples))
    return split.map(convert, remove_columns=split.column_names)


def sft_splits(
    dataset: "DatasetDict", max_samples: int | None, seed: int
) -> "tuple[Dataset, Dataset | None]":
    """(train, test) conversational datasets for SFT from an instruct ``DatasetDict``.

    Args:
        dataset: ``DatasetDict`` with ``train``/``test`` splits of ``instruction``/``answer``.
        max_samples: Keep at most this many rows per split (a seeded random sample).
        seed: Seed of that sample.
    """
    train = _prepare(dataset["train"], sft_example, max_samples, seed, "instruct train")
    test = dataset["test"]
    test = _prepare(test, sft_example, max_samples, seed, "instruct test") if len(test) else None
    return train, test


def dpo_splits(
    dataset: "DatasetDict", max_samples: int | None, seed: int
) -> "tuple[Dataset, Dataset | None]":
    """(train, test) conversational preference datasets for DPO (see :func:`sft_splits`)."""
    train = _prepare(dataset["train"], dpo_example, max_samples, seed, "preference train")
    test = dataset["test"]
    test = _prepare(test, dpo_example, max_samples, seed, "preference test") if len(test) else None
    return train, test
