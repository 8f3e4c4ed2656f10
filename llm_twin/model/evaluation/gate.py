"""The promotion gate: may the evaluated twin replace what serves now?

The candidate (the DPO model when the version has one, else the SFT model) must

1. beat its base: held-out-document perplexity, answer perplexity and style Delta at most a
   ratio of the base's (lower is better);
2. not be worse than the current production version beyond a tolerance on those three and on
   the RAG metrics (retrieval recall@5 and faithfulness): production's values come from its own
   saved evaluation (``evaluation/metrics.json``);
3. when a judge ran, reach the minimum judge scores.

Every check is reported with its value, reference and limit. A comparison that cannot be made
(no held-out documents, production evaluated on other data or settings, a metric production
never measured) is listed under ``skipped`` with the reason, never dropped silently. The gate
passes when every check passes; ``decided_by`` names the first failing check (in the order
above), or says ``all passed``.
"""

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from llm_twin.model.evaluation.config import GateThresholds

#: What ``decided_by`` says when no check failed.
ALL_PASSED = "all passed"
#: The metrics compared with the base model (ratio thresholds), in check order.
BASE_METRICS = ("heldout_perplexity", "perplexity", "style_delta")
#: The metrics compared with production: (name, ``<=`` lower is better / ``>=`` higher is
#: better). Lower-is-better tolerances are relative, higher-is-better ones absolute.
PRODUCTION_METRICS = (
    ("heldout_perplexity", "<="),
    ("perplexity", "<="),
    ("style_delta", "<="),
    ("retrieval_recall", ">="),
    ("faithfulness", ">="),
)
#: Where the RAG metrics are in a RAG evaluation result: (section, key).
RAG_METRICS = {
    "retrieval_recall": ("retrieval", "recall@5"),
    "faithfulness": ("generation", "faithfulness"),
}


@dataclass(frozen=True)
class Check:
    """One gate check.

    Attributes:
        name: The metric checked (``perplexity``...).
        against: ``base``, ``production v<N>`` or ``minimum`` (a judge score).
        value: The candidate's value.
        reference: The compared value (base's, production's or the minimum).
        limit: The threshold derived from it.
        comparison: ``<=`` or ``>=``: how ``value`` must relate to ``limit``.
        passed: Whether it does.
    """

    name: str
    against: str
    value: float
    reference: float
    limit: float
    comparison: str
    passed: bool

    @property
    def label(self) -> str:
        """``<name> vs <against>`` (what ``decided_by`` says)."""
        return f"{self.name} vs {self.against}"


def _check(
    name: str, against: str, value: float, reference: float, limit: float, comparison: str
) -> Check:
    passed = value <= limit if comparison == "<=" else value >= limit
    return Check(
        name,
        against,
        round(float(value), 6),
        round(float(reference), 6),
        round(float(limit), 6),
        comparison,
        bool(passed),
    )


@dataclass(frozen=True)
class Production:
    """The production version's saved evaluation, as the gate compares with it.

    Attributes:
        version: Its version number (None when no version is in production).
        metrics: Its gated values (:func:`gated_metrics`).
        comparability: Its per-metric comparability hashes (:func:`gated_comparability`).
        note: Why it cannot be compared at all (none in production, it is the candidate, no
            saved evaluation...), else None.
        rag: The RAG evaluation saved with that evaluation, if any.
    """

    version: int | None
    metrics: dict[str, float]
    comparability: dict[str, str]
    note: str | None = None
    rag: dict[str, Any] | None = None

    @property
    def label(self) -> str:
        """``production v<N>`` (``production`` when there is none)."""
        return "production" if self.version is None else f"production v{self.version}"

    @classmethod
    def absent(cls, note: str, version: int | None = None) -> "Production":
        """No comparison possible with production, for the reason ``note``."""
        return cls(version, {}, {}, note)


def gated_metrics(evaluation: dict[str, Any], rag: dict[str, Any] | None) -> dict[str, float]:
    """The values the gate compares with production, from an evaluation result (or a saved
    ``metrics.json``) and its RAG evaluation: the twin's held-out-document perplexity, answer
    perplexity and style Delta, the RAG recall@5 and faithfulness (those present)."""
    twin = evaluation.get("metrics", {}).get(evaluation.get("twin", ""), {})
    values = {name: float(twin[name]) for name in BASE_METRICS if twin.get(name) is not None}
    for name, (section, key) in RAG_METRICS.items():
        value = ((rag or {}).get(section) or {}).get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            values[name] = float(value)
    return values


def gated_comparability(evaluation: dict[str, Any], rag: dict[str, Any] | None) -> dict[str, str]:
    """Per gated metric, the hash of the settings and data it was measured with."""
    hashes = dict(evaluation.get("comparability") or {})
    if rag and rag.get("fingerprint"):
        hashes |= {name: str(rag["fingerprint"]) for name in RAG_METRICS}
    return hashes


def load_production(version: int, folder: Path, wanted: dict[str, str] | None = None) -> Production:
    """The saved evaluation of production version ``version`` (its ``evaluation/`` folder):
    the latest, unless ``wanted`` (the candidate's comparability hashes) is given and only one
    kept in ``history/`` was measured like that."""
    from llm_twin.model.evaluation.report import HISTORY_DIR

    path = folder / "metrics.json"
    if not path.is_file():
        return Production.absent(f"production v{version} has no saved evaluation ({path})", version)
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        return Production.absent(f"production v{version}'s {path} is unreadable ({error})", version)
    if wanted and not _measured_like(stored, wanted):
        for kept in sorted((folder / HISTORY_DIR).glob("*.json")):
            try:
                other = json.loads(kept.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # a damaged kept copy: the latest evaluation still stands
            if _measured_like(other, wanted):
                stored = other
                break
    rag = stored.get("rag")
    return Production(
        version, gated_metrics(stored, rag), gated_comparability(stored, rag), rag=rag
    )


def _measured_like(stored: dict[str, Any], wanted: dict[str, str]) -> bool:
    """True when the saved evaluation ``stored`` measured every metric of ``wanted`` alike."""
    hashes = gated_comparability(stored, stored.get("rag"))
    return all(hashes.get(name) == value for name, value in wanted.items())


def _base_checks(
    twin: dict[str, float], base: dict[str, float], thresholds: GateThresholds, skipped: list
) -> list[Check]:
    ratios = {
        "heldout_perplexity": thresholds.max_heldout_perplexity_ratio,
        "perplexity": thresholds.max_perplexity_ratio,
        "style_delta": thresholds.max_style_delta_ratio,
    }
    checks = []
    for metric in BASE_METRICS:
        if metric not in twin or metric not in base:
            if metric == "heldout_perplexity":  # optional: no held-out documents to score
                skipped.append(_skip(metric, "base", "not measured (no held-out documents scored)"))
                continue
            raise ValueError(f"the gate needs {metric} for base and the twin")
        # A zero base value (a perfect match) allows only zero: compare values, not a ratio.
        limit = base[metric] * ratios[metric]
        checks.append(_check(metric, "base", twin[metric], base[metric], limit, "<="))
    return checks


def _production_checks(
    candidate: dict[str, float],
    comparability: dict[str, str],
    production: Production,
    thresholds: GateThresholds,
    skipped: list,
) -> list[Check]:
    against = production.label
    if production.note:
        skipped.append(_skip("all production checks", against, production.note))
        return []
    tolerances = thresholds.production.model_dump()
    checks = []
    for metric, comparison in PRODUCTION_METRICS:
        if metric not in candidate:
            skipped.append(_skip(metric, against, "the candidate has no value (not measured)"))
        elif metric not in production.metrics:
            skipped.append(_skip(metric, against, f"{against} has no saved value"))
        elif not comparability.get(metric) or comparability.get(
            metric
        ) != production.comparability.get(metric):
            skipped.append(
                _skip(
                    metric,
                    against,
                    f"{against} measured it with other settings or data (comparability "
                    f"{production.comparability.get(metric) or 'unknown'} vs "
                    f"{comparability.get(metric) or 'unknown'})",
                )
            )
        else:
            reference, tolerance = production.metrics[metric], tolerances[metric]
            limit = reference * (1 + tolerance) if comparison == "<=" else reference - tolerance
            checks.append(_check(metric, against, candidate[metric], reference, limit, comparison))
    return checks


def _judge_checks(twin: dict[str, float], thresholds: GateThresholds) -> list[Check]:
    minimums = {
        "judge_accuracy": thresholds.min_judge_accuracy,
        "judge_style": thresholds.min_judge_style,
        "win_rate": thresholds.min_win_rate,
    }
    return [
        _check(name, "minimum", twin[name], minimum, minimum, ">=")
        for name, minimum in minimums.items()
        if name in twin
    ]


def _skip(name: str, against: str, reason: str) -> dict[str, str]:
    return {"name": name, "against": against, "reason": reason}


def evaluate_gate(
    metrics: dict[str, dict[str, float]],
    thresholds: GateThresholds,
    model: str,
    *,
    production: Production | None = None,
    candidate: dict[str, float] | None = None,
    comparability: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Apply ``thresholds`` to ``metrics[model]``: against ``metrics["base"]``, against the
    production version (when given) and the judge minimums.

    Args:
        metrics: ``{"base": {...}, "sft": {...}, "dpo": {...}}`` as the evaluation produced.
        thresholds: The configured limits.
        model: The evaluated entry (``dpo`` or ``sft``).
        production: The production version's saved evaluation (:meth:`Production.absent`
            when there is none to compare with: the reason is listed under ``skipped``), or None
            to check against the base only.
        candidate: The candidate's gated values (:func:`gated_metrics`; default: from
            ``metrics[model]`` without RAG metrics).
        comparability: The candidate's per-metric comparability hashes.

    Returns:
        ``{"model", "passed", "decided_by", "checks": [{name, against, value, reference, limit,
        comparison, passed, label}, ...], "skipped": [{name, against, reason}, ...],
        "production"}`` (``production``: what was compared with, when given; no None values:
        the result goes into ZenML metadata).

    Raises:
        ValueError: ``model`` or ``base`` is missing, or lacks perplexity/style_delta.
    """
    if model not in metrics or "base" not in metrics:
        raise ValueError(f"the gate needs the base and {model!r} metrics (have {sorted(metrics)})")
    twin = metrics[model]
    skipped: list[dict[str, str]] = []
    checks = _base_checks(twin, metrics["base"], thresholds, skipped)
    if production is not None:
        if candidate is None:
            candidate = {name: twin[name] for name in BASE_METRICS if name in twin}
        checks += _production_checks(
            candidate, comparability or {}, production, thresholds, skipped
        )
    checks += _judge_checks(twin, thresholds)
    failed = [check for check in checks if not check.passed]
    result = {
        "model": model,
        "passed": not failed,
        "decided_by": failed[0].label if failed else ALL_PASSED,
        "checks": [asdict(check) | {"label": check.label} for check in checks],
        "skipped": skipped,
    }
    if production is not None:
        result["production"] = production.label
    return result
