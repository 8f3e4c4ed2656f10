"""LLM-as-a-judge over any OpenAI-compatible server (OpenAI, vLLM, Ollama, llama.cpp).

Two kinds of verdicts, both asked for as JSON and validated with pydantic:

- **Rubric** (the reference's): ``accuracy`` 1-3 (factual correctness and completeness against
  the author's reference answer) and ``style`` 1-3 (how much it sounds like the author: plain,
  direct, first person; neither academic nor generic), each with a justification.
- **Pairwise**: the twin's answer against the base model's, asked in both orders (position bias);
  a win counts only when both orders agree, otherwise it is a tie. The judge is told to ignore
  length (length bias).

Requests go through the judge's :class:`~llm_twin.infrastructure.llm.base.LLMBackend` and the
structured-output helper. A malformed reply is asked again up to ``retries`` times, then counted
as a parse failure: no score is ever invented and the run goes on. Transport errors
(connection, timeout, 5xx, 429) are retried with backoff by the backend's client; when they
persist the :class:`~llm_twin.infrastructure.llm.base.LLMError` is raised (the judge is down or
misconfigured: a clear failure beats a report without its judge section).
"""

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from loguru import logger
from pydantic import BaseModel, Field

from llm_twin.domain.exceptions import ImproperlyConfigured
from llm_twin.infrastructure.llm.base import GenerationParams
from llm_twin.infrastructure.llm.factory import judge_backend
from llm_twin.infrastructure.llm.judge_endpoint import JudgeEndpoint, judge_endpoint
from llm_twin.infrastructure.llm.structured import MalformedReply, chat, complete_json, parse_json
from llm_twin.settings import Settings

RUBRIC_SYSTEM = (
    "You are an impartial evaluator of answers written by a digital twin of an author. Reply "
    "with JSON only."
)

RUBRIC_PROMPT = """Evaluate the answer to the instruction below on two criteria, using the \
author's own reference answer as the ground truth for facts and as the example of their voice.

1. Accuracy: how factually correct and complete is the answer?
   1 (Poor): factual errors, misleading or off-topic.
   2 (Good): mostly correct, minor errors or omissions.
   3 (Excellent): correct and comprehensive.
2. Style: does it read like the author (plain, direct, first person, the author's vocabulary),
   suitable for a blog post or social media?
   1 (Poor): too formal, academic, generic or robotic.
   2 (Good): mostly in the author's voice, some stiff or generic passages.
   3 (Excellent): sounds like the author throughout.

Instruction:
{instruction}

Author's reference answer:
{reference}

Answer to evaluate:
{answer}

Reply with this JSON object only:
{{"accuracy": {{"analysis": "<one or two sentences>", "score": <1, 2 or 3>}},
 "style": {{"analysis": "<one or two sentences>", "score": <1, 2 or 3>}}}}"""

PAIRWISE_PROMPT = """Two answers to the same instruction follow. Which one is more accurate \
(judged against the author's reference answer) and more in the author's voice? Ignore the \
answers' length: a longer answer is not better for being longer. Ignore their order.

Instruction:
{instruction}

Author's reference answer:
{reference}

Answer A:
{answer_a}

Answer B:
{answer_b}

Reply with this JSON object only:
{{"reason": "<one or two sentences>", "better": "A" | "B" | "tie"}}"""


class _Criterion(BaseModel):
    analysis: str = ""
    score: int = Field(ge=1, le=3)


class _Rubric(BaseModel):
    accuracy: _Criterion
    style: _Criterion


class _Preference(BaseModel):
    reason: str = ""
    better: Literal["A", "B", "tie"]


#: The judge's reply does not match the requested JSON.
MalformedVerdict = MalformedReply
Verdict = TypeVar("Verdict", bound=BaseModel)


def parse_rubric(text: str) -> tuple[int, int, str, str]:
    """(accuracy, style, accuracy analysis, style analysis) from a rubric reply.

    Raises:
        MalformedVerdict: not JSON, or a score missing or outside 1-3.
    """
    rubric = parse_json(_Rubric, text, "rubric reply")
    accuracy, style = rubric.accuracy, rubric.style
    return accuracy.score, style.score, accuracy.analysis, style.analysis


def parse_preference(text: str) -> str:
    """``A``, ``B`` or ``tie`` from a pairwise reply.

    Raises:
        MalformedVerdict: not JSON or no valid ``better``.
    """
    return parse_json(_Preference, text, "pairwise reply").better


def resolve_judge(mode: str, settings: Settings) -> JudgeEndpoint | None:
    """The judge to use for config ``judge`` = ``mode`` (auto, always, never).

    Raises:
        ImproperlyConfigured: ``always`` without a configured judge.
    """
    if mode == "never":
        return None
    endpoint = judge_endpoint(settings)
    if endpoint is None and mode == "always":
        raise ImproperlyConfigured(
            "judge: always needs a judge LLM: set JUDGE_BASE_URL (or OPENAI_BASE_URL) and "
            "JUDGE_MODEL_ID"
        )
    return endpoint


@dataclass
class JudgeScores:
    """Aggregated judge verdicts of one model.

    Attributes:
        accuracy: Accuracy scores (1-3) that parsed.
        style: Style scores (1-3) that parsed.
        failures: Rows whose reply never parsed.
        verdicts: Per row ``{"accuracy", "style", "accuracy_analysis", "style_analysis"}`` or
            ``None`` for a failure.
    """

    accuracy: list[int] = field(default_factory=list)
    style: list[int] = field(default_factory=list)
    failures: int = 0
    verdicts: list[dict[str, int | str] | None] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        """``judge_accuracy``, ``judge_accuracy_ci95``, ``judge_style``, ``judge_style_ci95``
        (means and 95 % confidence half-widths; absent when nothing parsed) and
        ``judge_failures``."""
        result: dict[str, float] = {"judge_failures": self.failures}
        for name, values in (("judge_accuracy", self.accuracy), ("judge_style", self.style)):
            if values:
                result[name] = statistics.fmean(values)
                result[f"{name}_ci95"] = ci95(values)
        return result


def ci95(values: Sequence[float]) -> float:
    """Half-width of the normal-approximation 95 % confidence interval of the mean (0 for fewer
    than two values)."""
    if len(values) < 2:
        return 0.0
    return 1.96 * statistics.stdev(values) / math.sqrt(len(values))


class Judge:
    """Asks an OpenAI-compatible LLM for verdicts.

    Args:
        endpoint: The judge's URL, model and key.
        retries: Re-asks after a malformed reply before counting a failure.
        max_tokens: Most tokens per reply.
        timeout: Seconds per request.
        transport_attempts: Attempts per request on transport errors (with backoff).

    Attributes:
        requests: Replies received.
    """

    def __init__(
        self,
        endpoint: JudgeEndpoint,
        *,
        retries: int = 2,
        max_tokens: int = 300,
        timeout: float = 60.0,
        transport_attempts: int = 3,
    ) -> None:
        self.endpoint = endpoint
        self.retries = retries
        self.params = GenerationParams(max_new_tokens=max_tokens, temperature=0.0, top_p=1.0)
        self._backend = judge_backend(
            endpoint, timeout=timeout, retries=max(1, transport_attempts) - 1
        )
        self.requests = 0

    def _count(self, _completion: object) -> None:
        self.requests += 1

    def _ask(self, prompt: str, schema: type[Verdict], what: str) -> Verdict | None:
        """The reply as ``schema``, asking the same prompt again after a malformed reply; None
        after the last one."""

        def malformed(attempt: int, error: MalformedReply) -> None:
            logger.warning(
                "judge {} reply malformed (attempt {}/{}): {}",
                what,
                attempt + 1,
                self.retries + 1,
                error,
            )

        return complete_json(
            self._backend,
            chat(RUBRIC_SYSTEM, prompt),
            schema,
            params=self.params,
            retries=self.retries,
            reask=False,
            on_reply=self._count,
            on_malformed=malformed,
        )

    def rubric(
        self, instructions: Sequence[str], references: Sequence[str], answers: Sequence[str]
    ) -> JudgeScores:
        """Rubric scores of ``answers``.

        Args:
            instructions: Test instructions.
            references: The author's answers.
            answers: The answers to grade.
        """
        scores = JudgeScores()
        for instruction, reference, answer in zip(instructions, references, answers, strict=True):
            prompt = RUBRIC_PROMPT.format(
                instruction=instruction, reference=reference, answer=answer or "(empty)"
            )
            verdict = self._ask(prompt, _Rubric, "rubric")
            if verdict is None:
                scores.failures += 1
                scores.verdicts.append(None)
                continue
            accuracy, style = verdict.accuracy.score, verdict.style.score
            accuracy_analysis, style_analysis = verdict.accuracy.analysis, verdict.style.analysis
            scores.accuracy.append(accuracy)
            scores.style.append(style)
            scores.verdicts.append(
                {
                    "accuracy": accuracy,
                    "style": style,
                    "accuracy_analysis": accuracy_analysis,
                    "style_analysis": style_analysis,
                }
            )
        return scores

    def pairwise(
        self,
        instructions: Sequence[str],
        references: Sequence[str],
        twin_answers: Sequence[str],
        base_answers: Sequence[str],
    ) -> dict[str, float]:
        """Twin vs base, both orders per row; a win needs both orders to agree.

        Returns:
            ``win_rate``, ``loss_rate``, ``tie_rate`` (shares of the rows judged) and
            ``pairwise_failures`` (rows where an order never parsed).
        """
        outcomes = {"win": 0, "loss": 0, "tie": 0}
        failures = 0
        rows = zip(instructions, references, twin_answers, base_answers, strict=True)
        for instruction, reference, twin, base in rows:
            first = self._ask(
                PAIRWISE_PROMPT.format(
                    instruction=instruction, reference=reference, answer_a=twin, answer_b=base
                ),
                _Preference,
                "pairwise",
            )
            second = self._ask(
                PAIRWISE_PROMPT.format(
                    instruction=instruction, reference=reference, answer_a=base, answer_b=twin
                ),
                _Preference,
                "pairwise",
            )
            if first is None or second is None:
                failures += 1
                continue
            if (first.better, second.better) == ("A", "B"):
                outcomes["win"] += 1
            elif (first.better, second.better) == ("B", "A"):
                outcomes["loss"] += 1
            else:  # a tie or an order-dependent (inconsistent) verdict
                outcomes["tie"] += 1
        judged = sum(outcomes.values())
        result: dict[str, float] = {"pairwise_failures": failures}
        if judged:
            result |= {f"{key}_rate": value / judged for key, value in outcomes.items()}
        return result

    def close(self) -> None:
        """Close the HTTP client."""
        self._backend.close()


def describe(endpoint: JudgeEndpoint) -> dict[str, str]:
    """What the report says about the judge (no key)."""
    return {"base_url": endpoint.base_url, "model": endpoint.model}
