"""Instruction samples from extracts: back-translation (the default) or the reference's mode.

Back-translation keeps the author's extract, verbatim, as the answer and lets the generator
write only the instruction; ``mode="answer"`` asks an LLM to write the answer too (the
reference's approach, which replaces the author's voice with the LLM's).
"""

import random
from collections.abc import Sequence
from typing import Any

from llm_twin.application.dataset.generation import Generated, Generator
from llm_twin.application.dataset.samples import Extract
from llm_twin.domain.exceptions import InvalidInput

MODES = ("backtranslation", "answer")


def sample_extracts(extracts: Sequence[Extract], limit: int, seed: int) -> list[Extract]:
    """At most ``limit`` extracts (0: all), a seeded random choice kept in input order."""
    if not limit or len(extracts) <= limit:
        return list(extracts)
    chosen = sorted(random.Random(seed).sample(range(len(extracts)), limit))
    return [extracts[i] for i in chosen]


def instruct_rows(
    extracts: Sequence[Extract], generator: Generator, mode: str = "backtranslation"
) -> list[dict[str, Any]]:
    """One instruct row per extract the generator succeeded on.

    Args:
        extracts: The author's extracts.
        generator: Writes the instructions (and answers in ``answer`` mode).
        mode: ``backtranslation`` (answer = the extract) or ``answer`` (answer by the LLM).

    Each row records its ``template`` (see :func:`template_columns`).
    """
    if mode not in MODES:
        raise InvalidInput(f"unknown instruct mode {mode!r}; use one of {MODES}")
    if mode == "backtranslation":
        generated = generator.instructions(extracts)
    else:
        generated = generator.instructions_and_answers(extracts)
    rows = []
    for extract, item in zip(extracts, generated, strict=True):
        answer = extract.text if mode == "backtranslation" else item.answer
        if not item.instruction or not answer:
            continue
        rows.append(
            extract.row(
                instruction=item.instruction,
                answer=answer,
                generator=generator.name,
                mode=mode,
                **template_columns(item, generator),
            )
        )
    return rows


def template_columns(item: Generated, generator: Generator) -> dict[str, Any]:
    """The ``template`` column (the structure generator's template, else the generator's kind)
    and, for grounded samples, the ``question`` (the assembly adds its context)."""
    columns: dict[str, Any] = {"template": str(item.extra.get("template") or generator.kind)}
    if item.extra.get("question"):
        columns["question"] = str(item.extra["question"])
    return columns
