"""Preference triples: prompt, chosen = the author's text, rejected = a generic LLM answer.

The contrast between the author's passage and what a base model writes for the same
instruction is what teaches the style. Optionally an LLM judge ranks the two answers instead
(the reference's mode): the one it prefers becomes ``chosen``.
"""

from collections.abc import Sequence
from typing import Any

from llm_twin.application.dataset.filters import FilterReport, normalized, shingles
from llm_twin.application.dataset.generation import Generator
from llm_twin.application.dataset.samples import Extract
from llm_twin.domain.exceptions import InvalidInput

RANKINGS = ("author", "judge")
ORIGIN = "author"


def similarity(a: str, b: str, size: int = 3) -> float:
    """Jaccard similarity of the word ``size``-gram sets of two texts."""
    first, second = shingles(a, size), shingles(b, size)
    if not first or not second:
        return 1.0 if normalized(a) == normalized(b) else 0.0
    return len(first & second) / len(first | second)


def preference_rows(
    extracts: Sequence[Extract],
    instruction_generator: Generator,
    answer_generator: Generator,
    report: FilterReport,
    *,
    ranking: str = "author",
    judge: Generator | None = None,
    max_similarity: float = 0.5,
) -> list[dict[str, Any]]:
    """Preference rows for ``extracts``.

    Args:
        extracts: The author's extracts (each becomes ``chosen``).
        instruction_generator: Writes the prompt each extract answers.
        answer_generator: Writes the generic ``rejected`` answer to each prompt.
        report: Where ``dropped_generation_failed`` and ``dropped_chosen_equals_rejected``
            are counted.
        ranking: ``author`` (chosen is always the author's text) or ``judge``.
        judge: The LLM judge for ``ranking="judge"``.
        max_similarity: Pairs whose chosen and rejected share more than this fraction of word
            trigrams (Jaccard) are dropped: no contrast to learn from.
    """
    if ranking not in RANKINGS:
        raise InvalidInput(f"unknown preference ranking {ranking!r}; use one of {RANKINGS}")
    if ranking == "judge" and judge is None:
        raise InvalidInput("preference ranking 'judge' needs a judge generator")
    generated = instruction_generator.instructions(extracts)
    pending = [
        (e, g.instruction, str(g.extra.get("template") or instruction_generator.kind))
        for e, g in zip(extracts, generated, strict=True)
        if g.instruction
    ]
    answers = answer_generator.answers([instruction for _, instruction, _ in pending])
    rows: list[dict[str, Any]] = []
    failed = len(extracts) - len(pending)
    similar = 0
    for (extract, instruction, template), rejected in zip(pending, answers, strict=True):
        if not rejected:
            failed += 1
            continue
        chosen = extract.text
        if similarity(chosen, rejected) > max_similarity:
            similar += 1
            continue
        swapped = False
        if ranking == "judge" and judge is not None:
            verdict = judge.judge(instruction, chosen, rejected)
            if verdict is None:
                failed += 1
                continue
            swapped = verdict == "B"
            if swapped:
                chosen, rejected = rejected, chosen
        rows.append(
            extract.row(
                prompt=instruction,
                chosen=chosen,
                rejected=rejected,
                generator=f"{instruction_generator.name}+{answer_generator.name}",
                origin=ORIGIN,
                judge_swapped=swapped,
                template=template,
            )
        )
    report.add("generation_failed", failed)
    report.add("chosen_equals_rejected", similar)
    return rows
