"""LLM-as-a-judge over any OpenAI-compatible server (OpenAI, vLLM, Ollama, llama.cpp).

Two kinds of verdicts, both asked for as JSON and validated with pydantic:

- **Rubric** (the reference's): ``accuracy`` 1-3 (factual correctness and completeness against
  the author's reference answer) and ``style`` 1-3 (how much it sounds like the author: plain,
  direct, first person; neither academic nor generic), each with a justification.
- **Pairwise**: the twin's answer against the base model's, asked in both orders (position bias);
  a win counts only when both orders agree, otherwise it is a tie. The judge is told to ignore
  length (length bias).

A malformed reply is asked again up to ``retries`` times, then counted as a parse failure: no
score is ever invented and the run goes on. Transport errors (connection, timeout, 5xx, 429) are
retried with backoff (tenacity); when they persist the error is raised (the judge is down or
misconfigured: a clear failure beats a report without its judge section).
"""

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from loguru import logger
from pydantic import BaseModel, Field, ValidationError

from llm_twin.domain.exceptions import ImproperlyConfigured
from llm_twin.infrastructure.llm.judge_endpoint import JudgeEndpoint, judge_endpoint
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


class MalformedVerdict(ValueError):
    """The judge's reply does not match the requested JSON."""


def json_text(text: str) -> str:
    """The JSON object inside ``text`` (servers may wrap it in a Markdown fence or prose)."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise MalformedVerdict("reply holds no JSON object")
    return text[start : end + 1]


def parse_rubric(text: str) -> tuple[int, int, str, str]:
    """(accuracy, style, accuracy analysis, style analysis) from a rubric reply.

    Raises:
        MalformedVerdict: not JSON, or a score missing or outside 1-3.
    """
    try:
        rubric = _Rubric.model_validate_json(json_text(text))
    except ValidationError as error:
        raise MalformedVerdict(f"rubric reply invalid: {error.errors()[0]['msg']}") from None
    accuracy, style = rubric.accuracy, rubric.style
    return accuracy.score, style.score, accuracy.analysis, style.analysis


def parse_preference(text: str) -> str:
    """``A``, ``B`` or ``tie`` from a pairwise reply.

    Raises:
        MalformedVerdict: not JSON or no valid ``better``.
    """
    try:
        return _Preference.model_validate_json(json_text(text)).better
    except ValidationError as error:
        raise MalformedVerdict(f"pairwise reply invalid: {error.errors()[0]['msg']}") from None


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
    verdicts: list[dict[str, Any] | None] = field(default_factory=list)

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
        from openai import OpenAI

        self.endpoint = endpoint
        self.retries = retries
        self.max_tokens = max_tokens
        self.transport_attempts = max(1, transport_attempts)
        # Transport retries are tenacity's (below); the client's own are off.
        self._client = OpenAI(
            base_url=endpoint.base_url,
            api_key=endpoint.api_key or "unused",
            timeout=timeout,
            max_retries=0,
        )
        self.requests = 0

    def _chat(self, prompt: str) -> str:
        from openai import APIConnectionError, APITimeoutError, InternalServerError, RateLimitError
        from tenacity import (
            retry,
            retry_if_exception_type,
            stop_after_attempt,
            wait_exponential,
        )

        @retry(
            retry=retry_if_exception_type(
                (APIConnectionError, APITimeoutError, InternalServerError, RateLimitError)
            ),
            stop=stop_after_attempt(self.transport_attempts),
            wait=wait_exponential(multiplier=0.5, max=8),
            reraise=True,
        )
        def call() -> str:
            self.requests += 1
            response = self._client.chat.completions.create(
                model=self.endpoint.model,
                messages=[
                    {"role": "system", "content": RUBRIC_SYSTEM},
                    {"role": "user", "content": prompt},
                ],
                temperature=0.0,
                max_tokens=self.max_tokens,
            )
            return response.choices[0].message.content or ""

        return call()

    def _ask(self, prompt: str, parse: Any, what: str) -> Any:
        """``parse(reply)``, re-asking after malformed replies; None after the last one."""
        for attempt in range(self.retries + 1):
            reply = self._chat(prompt)
            try:
                return parse(reply)
            except MalformedVerdict as error:
                logger.warning(
                    "judge {} reply malformed (attempt {}/{}): {}",
                    what,
                    attempt + 1,
                    self.retries + 1,
                    error,
                )
        return None

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
            verdict = self._ask(prompt, parse_rubric, "rubric")
            if verdict is None:
                scores.failures += 1
                scores.verdicts.append(None)
                continue
            accuracy, style, accuracy_analysis, style_analysis = verdict
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
                parse_preference,
                "pairwise",
            )
            second = self._ask(
                PAIRWISE_PROMPT.format(
                    instruction=instruction, reference=reference, answer_a=base, answer_b=twin
                ),
                parse_preference,
                "pairwise",
            )
            if first is None or second is None:
                failures += 1
                continue
            if first == "A" and second == "B":
                outcomes["win"] += 1
            elif first == "B" and second == "A":
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
        self._client.close()


def describe(endpoint: JudgeEndpoint) -> dict[str, Any]:
    """What the report says about the judge (no key)."""
    return {"base_url": endpoint.base_url, "model": endpoint.model}
