"""Perplexity of the author's held-out text under a model.

:func:`perplexity` (answer perplexity): each test row is rendered as the training conversation
(the twin's system prompt, the instruction, the author's answer as the assistant turn) in the
model's chat template; only the answer's tokens (its end-of-turn marker included, as in
training) are scored.

:func:`document_perplexity` (held-out-document perplexity): the plain text of whole documents,
no chat template, scored in windows of the model's context; every token of every document is
scored exactly once.

Both are token-weighted: ``exp(total negative log-likelihood / scored tokens)`` over all rows or
documents (a long document weighs more than a short one). Lower means the model finds the
author's own words more likely.
"""

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from llm_twin.domain.prompts import build_messages

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


def scored_example(
    tokenizer: "PreTrainedTokenizerBase", instruction: str, answer: str, max_length: int
) -> tuple[list[int], int]:
    """(token ids, index of the first answer token) of one row, cut to ``max_length`` tokens.

    Raises:
        ValueError: the chat template does not render the conversation as prompt + answer.
    """
    messages = build_messages(instruction)
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template(
        [*messages, {"role": "assistant", "content": answer.strip()}], tokenize=False
    )
    if not full.startswith(prompt):
        raise ValueError("the chat template does not render a conversation as prompt + answer")
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    # The template's separator after the end-of-turn marker is not part of the answer (training
    # does not learn it either).
    answer_ids = tokenizer(full[len(prompt) :].rstrip(), add_special_tokens=False)["input_ids"]
    ids = prompt_ids + answer_ids
    if len(ids) > max_length:
        # Keep the whole answer when it fits, dropping the start of the prompt (system prompt).
        ids = ids[-max_length:]
    return ids, max(1, len(ids) - len(answer_ids))


def perplexity(
    model: "PreTrainedModel",
    tokenizer: "PreTrainedTokenizerBase",
    instructions: Sequence[str],
    answers: Sequence[str],
    *,
    max_length: int = 512,
    batch_size: int = 8,
    device: str = "cpu",
) -> float:
    """Perplexity of ``answers`` given ``instructions`` (answer tokens only).

    Args:
        model: A causal LM.
        tokenizer: Its tokenizer with a chat template.
        instructions: Test instructions.
        answers: The author's answers to them.
        max_length: Most tokens per row.
        batch_size: Rows per forward pass.
        device: Where ``model`` is.

    Raises:
        ValueError: no rows, or no answer token to score.
    """
    if len(instructions) != len(answers) or not answers:
        raise ValueError(f"{len(instructions)} instructions for {len(answers)} answers")
    rows = [
        scored_example(tokenizer, instruction, answer, max_length)
        for instruction, answer in zip(instructions, answers, strict=True)
    ]
    total_nll, total_tokens = summed_nll(model, tokenizer, rows, batch_size, device)
    if total_tokens == 0:
        raise ValueError("no answer tokens to score")
    return math.exp(total_nll / total_tokens)


def summed_nll(
    model: "PreTrainedModel",
    tokenizer: "PreTrainedTokenizerBase",
    rows: Sequence[tuple[list[int], int]],
    batch_size: int,
    device: str,
) -> tuple[float, int]:
    """(total negative log-likelihood, scored tokens) of ``rows``: each is (token ids, index of
    its first scored token); a token is predicted from the ones before it in its row.

    Args:
        model: A causal LM.
        tokenizer: Its tokenizer (for the pad token).
        rows: The rows; the first scored index is at least 1.
        batch_size: Rows per forward pass.
        device: Where ``model`` is.
    """
    import torch

    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    # Rows of similar length batched together: padding is computed and thrown away (one long
    # grounded prompt among short rows padded the whole batch to it). The sums do not depend on
    # the order.
    rows = sorted(rows, key=lambda row: len(row[0]))
    total_nll, total_tokens = 0.0, 0
    for start in range(0, len(rows), batch_size):
        batch = rows[start : start + batch_size]
        width = max(len(ids) for ids, _ in batch)
        input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
        attention = torch.zeros((len(batch), width), dtype=torch.long)
        labels = torch.full((len(batch), width), -100, dtype=torch.long)
        for row, (ids, first_scored) in enumerate(batch):
            # Right padding: positions stay 0..n-1 as in training.
            input_ids[row, : len(ids)] = torch.tensor(ids)
            attention[row, : len(ids)] = 1
            labels[row, first_scored : len(ids)] = torch.tensor(ids[first_scored:])
        with torch.inference_mode():
            logits = model(
                input_ids=input_ids.to(device), attention_mask=attention.to(device)
            ).logits.float()
        shifted = logits[:, :-1].reshape(-1, logits.shape[-1])
        targets = labels[:, 1:].reshape(-1).to(device)
        nll = torch.nn.functional.cross_entropy(
            shifted, targets, ignore_index=-100, reduction="sum"
        )
        total_nll += float(nll)
        total_tokens += int((targets != -100).sum())
    return total_nll, total_tokens


def document_separator(tokenizer: "PreTrainedTokenizerBase") -> int | None:
    """The token a document's first window starts with, so that its first text token is scored
    too: the beginning-of-sequence token, else the end-of-sequence token (a document boundary),
    else None (then the first text token is context only)."""
    for token in (tokenizer.bos_token_id, tokenizer.eos_token_id):
        if token is not None:
            return int(token)
    return None


def document_windows(
    ids: Sequence[int], window: int, separator: int | None
) -> list[tuple[list[int], int]]:
    """One document's token ids as scored windows of at most ``window`` tokens: (ids, 1).

    The first window starts with ``separator`` (when given); each next window starts with the
    last token of the previous one as context, so every document token is scored exactly once
    (a window's first token is context only).

    Args:
        ids: The document's token ids (no special tokens).
        window: Most tokens per window (at least 2).
        separator: The token before the document, or None.
    """
    if window < 2:
        raise ValueError(f"a window needs at least 2 tokens (got {window})")
    sequence = ([separator] if separator is not None else []) + list(ids)
    if len(sequence) < 2:
        return []
    windows = []
    start = 0
    while True:
        windows.append((sequence[start : start + window], 1))
        if start + window >= len(sequence):
            return windows
        start += window - 1


def document_perplexity(
    model: "PreTrainedModel",
    tokenizer: "PreTrainedTokenizerBase",
    texts: Sequence[str],
    *,
    window: int = 512,
    batch_tokens: int = 2048,
    device: str = "cpu",
) -> tuple[float, int]:
    """Token-weighted perplexity of plain ``texts`` (no chat template) and the tokens scored.

    Args:
        model: A causal LM.
        tokenizer: Its tokenizer.
        texts: The documents' texts.
        window: Most tokens per forward pass of one document (its context).
        batch_tokens: Tokens per forward pass (windows are batched up to it; the logits of a
            pass take tokens x vocabulary x 4 bytes).
        device: Where ``model`` is.

    Raises:
        ValueError: no token to score.
    """
    separator = document_separator(tokenizer)
    rows = [
        row
        for text in texts
        for row in document_windows(
            tokenizer(text, add_special_tokens=False)["input_ids"], window, separator
        )
    ]
    batch_size = max(1, batch_tokens // window)
    total_nll, total_tokens = summed_nll(model, tokenizer, rows, batch_size, device)
    if total_tokens == 0:
        raise ValueError("no document tokens to score")
    return math.exp(total_nll / total_tokens), total_tokens
