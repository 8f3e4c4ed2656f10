"""Perplexity of the author's held-out answers under a model.

Each test row is rendered as the training conversation (the twin's system prompt, the
instruction, the author's answer as the assistant turn) in the model's chat template; only the
answer's tokens (its end-of-turn marker included, as in training) are scored. The result is
``exp(total negative log-likelihood / answer tokens)`` over all rows: lower means the model finds
the author's own words more likely.
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
    import torch

    if len(instructions) != len(answers) or not answers:
        raise ValueError(f"{len(instructions)} instructions for {len(answers)} answers")
    rows = [
        scored_example(tokenizer, instruction, answer, max_length)
        for instruction, answer in zip(instructions, answers, strict=True)
    ]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    total_nll, total_tokens = 0.0, 0
    for start in range(0, len(rows), batch_size):
        batch = rows[start : start + batch_size]
        width = max(len(ids) for ids, _ in batch)
        input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
        attention = torch.zeros((len(batch), width), dtype=torch.long)
        labels = torch.full((len(batch), width), -100, dtype=torch.long)
        for row, (ids, answer_start) in enumerate(batch):
            # Right padding: positions stay 0..n-1 as in training.
            input_ids[row, : len(ids)] = torch.tensor(ids)
            attention[row, : len(ids)] = 1
            labels[row, answer_start : len(ids)] = torch.tensor(ids[answer_start:])
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
    if total_tokens == 0:
        raise ValueError("no answer tokens to score")
    return math.exp(total_nll / total_tokens)
