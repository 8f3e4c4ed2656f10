"""From the dataset store's rows to the formats TRL trains on: the conversational examples of
SFT and DPO, and the packed blocks of plain text of continued pretraining.

Every conversational example is built with :func:`llm_twin.domain.prompts.build_messages` (the
twin's system prompt + the user turn), exactly what the inference service sends, so the model
learns the format it is served with. Grounded question-answer rows carry their retrieved context
inside the instruction, in the same format.
"""

import dataclasses
import random
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from llm_twin.domain.exceptions import InvalidInput
from llm_twin.domain.prompts import build_messages, render_prompt

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict
    from transformers import PreTrainedTokenizerBase


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


#: Fewest answer tokens an SFT example must keep within ``max_length``; a prompt longer than
#: that (a grounded question with its retrieved context at a short ``max_length``) would leave
#: nothing to learn, and a batch of only such examples has no token to take the loss on.
MIN_ANSWER_TOKENS = 32


def _answer_fits(
    split: "Dataset", tokenizer: "PreTrainedTokenizerBase", max_length: int, name: str
) -> "Dataset":
    """The rows of ``split`` whose rendered prompt leaves ``MIN_ANSWER_TOKENS`` for the answer.

    Raises:
        InvalidInput: no row fits (``max_length`` is too short for every prompt).
    """
    from loguru import logger

    def fits(row: dict[str, Any]) -> bool:
        prompt = render_prompt(tokenizer, build_messages(str(row["instruction"])))
        tokens = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        return len(tokens) + MIN_ANSWER_TOKENS <= max_length

    kept = split.filter(fits, keep_in_memory=True)
    if len(split) and not len(kept):
        raise InvalidInput(
            f"sft.max_length {max_length}: no {name} prompt leaves {MIN_ANSWER_TOKENS} tokens "
            "for its answer; raise sft.max_length"
        )
    if len(kept) < len(split):
        logger.info(
            "SFT {}: {} of {} examples left out, their prompt leaves no room for the answer "
            "within max_length {}",
            name,
            len(split) - len(kept),
            len(split),
            max_length,
        )
    return kept


def sft_splits(
    dataset: "DatasetDict",
    max_samples: int | None,
    seed: int,
    *,
    tokenizer: "PreTrainedTokenizerBase | None" = None,
    max_length: int | None = None,
) -> "tuple[Dataset, Dataset | None]":
    """(train, test) conversational datasets for SFT from an instruct ``DatasetDict``.

    Args:
        dataset: ``DatasetDict`` with ``train``/``test`` splits of ``instruction``/``answer``.
        max_samples: Keep at most this many rows per split (a seeded random sample).
        seed: Seed of that sample.
        tokenizer: With ``max_length``: rows whose prompt leaves fewer than
            :data:`MIN_ANSWER_TOKENS` answer tokens are left out before sampling.
        max_length: The stage's ``max_length`` (tokens of prompt + answer).
    """
    train, test = dataset["train"], dataset["test"]
    if tokenizer is not None and max_length:
        train = _answer_fits(train, tokenizer, max_length, "train")
        test = _answer_fits(test, tokenizer, max_length, "test") if len(test) else test
    train = _prepare(train, sft_example, max_samples, seed, "instruct train")
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


def pack_texts(
    texts: Sequence[str], tokenizer: "PreTrainedTokenizerBase", block_size: int
) -> list[list[int]]:
    """Tokenize ``texts``, join them with the end-of-sequence token after each and cut the
    stream into blocks of ``block_size`` tokens (the last block may be shorter).

    Args:
        texts: The documents' plain texts, in order.
        tokenizer: The training tokenizer (its ``eos_token_id`` separates the documents).
        block_size: Tokens per block.
    """
    stream: list[int] = []
    for text in texts:
        stream.extend(tokenizer(text, add_special_tokens=False)["input_ids"])
        stream.append(tokenizer.eos_token_id)
    blocks = [stream[start : start + block_size] for start in range(0, len(stream), block_size)]
    # A one-token tail has no next token to predict.
    return [block for block in blocks if len(block) > 1]


@dataclasses.dataclass(frozen=True)
class PackedCorpus:
    """The pt stage's data: ``input_ids`` blocks to train on and the blocks set aside.

    Attributes:
        train: Training blocks (``input_ids``).
        test: The blocks set aside for the evaluation loss, or None.
        train_tokens: Tokens in the training blocks.
        documents: Documents packed.
    """

    train: "Dataset"
    test: "Dataset | None"
    train_tokens: int
    documents: int


def pt_splits(
    texts: Sequence[str],
    tokenizer: "PreTrainedTokenizerBase",
    block_size: int,
    eval_blocks: int,
    seed: int,
) -> PackedCorpus:
    """Pack the documents' texts (:func:`pack_texts`) and set ``eval_blocks`` of the blocks
    (a seeded pick, never all of them) aside for evaluation.

    Args:
        texts: The trainable documents' texts.
        tokenizer: The training tokenizer.
        block_size: Tokens per block.
        eval_blocks: Blocks to set aside (0: none).
        seed: Seed of the pick.

    Raises:
        InvalidInput: the documents hold no text to train on.
    """
    from datasets import Dataset

    blocks = pack_texts(texts, tokenizer, block_size)
    if not blocks:
        raise InvalidInput("the pt stage's documents hold no text to train on")
    count = min(eval_blocks, len(blocks) - 1)
    held = set(random.Random(seed).sample(range(len(blocks)), count)) if count > 0 else set()
    train = [block for index, block in enumerate(blocks) if index not in held]
    test = [blocks[index] for index in sorted(held)]
    return PackedCorpus(
        train=Dataset.from_dict({"input_ids": train}),
        test=Dataset.from_dict({"input_ids": test}) if test else None,
        train_tokens=sum(len(block) for block in train),
        documents=len(texts),
    )
