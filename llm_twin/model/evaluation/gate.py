"""The promotion gate: may the evaluated twin replace what serves now?

The twin (the DPO model when the version has one, else the SFT model) is compared with its base
on metrics where lower is better (``perplexity``, ``style_delta``: at most a ratio of the base's)
and, when a judge ran, against minimum judge scores. Every check is reported with its value and
limit; the gate passes when all pass.
"""

from dataclasses import asdict, dataclass
from typing import Any

from llm_twin.model.evaluation.config import GateThresholds


@dataclass(frozen=True)
class Check:
    """One gate check.

    Attributes:
        name: What is checked (``perplexity_ratio``...).
        value: The measured value.
        limit: The threshold.
        comparison: ``<=`` or ``>=``: how ``value`` must relate to ``limit``.
        passed: Whether it does.
    """

    name: str
    value: float
    limit: float
    comparison: str
    passed: bool


def _check(name: str, value: float, limit: float, comparison: str) -> Check:
    passed = value <= limit if comparison == "<=" else value >= limit
    return Check(name, round(float(value), 6), float(limit), comparison, bool(passed))


def evaluate_gate(
    metrics: dict[str, dict[str, float]], thresholds: GateThresholds, model: str
) -> dict[str, Any]:
    """Apply ``thresholds`` to ``metrics[model]`` against ``metrics["base"]``.

    Args:
        metrics: ``{"base": {...}, "sft": {...}, "dpo": {...}}`` as the evaluation produced.
        thresholds: The configured limits.
        model: The evaluated entry (``dpo`` or ``sft``).

    Returns:
        ``{"model", "passed", "checks": [{name, value, limit, comparison, passed}, ...]}``.

    Raises:
        ValueError: ``model`` or ``base`` is missing, or lacks perplexity/style_delta.
    """
    if model not in metrics or "base" not in metrics:
        raise ValueError(f"the gate needs the base and {model!r} metrics (have {sorted(metrics)})")
    twin, base = metrics[model], metrics["base"]
    checks = []
    for metric, ratio in (
        ("perplexity", thresholds.max_perplexity_ratio),
        ("style_delta", thresholds.max_style_delta_ratio),
    ):
        if metric not in twin or metric not in base:
            raise ValueError(f"the gate needs {metric} for base and {model}")
        # A zero base value (a perfect match) allows only zero: compare values, not a ratio.
        limit = base[metric] * ratio
        checks.append(_check(metric, twin[metric], limit, "<="))
    if "judge_accuracy" in twin:
        checks.append(
            _check("judge_accuracy", twin["judge_accuracy"], thresholds.min_judge_accuracy, ">=")
        )
    if "judge_style" in twin:
        checks.append(_check("judge_style", twin["judge_style"], thresholds.min_judge_style, ">="))
    if "win_rate" in twin:
        checks.append(_check("win_rate", twin["win_rate"], thresholds.min_win_rate, ">="))
    return {
        "model": model,
        "passed": all(check.passed for check in checks),
        "checks": [asdict(check) for check in checks],
    }
