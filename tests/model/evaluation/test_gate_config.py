"""The promotion gate and the evaluation config."""

import pytest

from llm_twin.domain.exceptions import InvalidInput
from llm_twin.model.evaluation.config import GateThresholds, parse_config
from llm_twin.model.evaluation.gate import evaluate_gate

METRICS = {
    "base": {"perplexity": 20.0, "style_delta": 1.0},
    "sft": {"perplexity": 12.0, "style_delta": 0.9},
    "dpo": {"perplexity": 11.0, "style_delta": 1.2},
}


def checks(gate: dict) -> dict:
    return {check["name"]: check for check in gate["checks"]}


def test_gate_passes_within_ratios_and_fails_beyond() -> None:
    gate = evaluate_gate(METRICS, GateThresholds(max_style_delta_ratio=1.25), "dpo")
    assert gate["passed"] and gate["model"] == "dpo"
    assert checks(gate)["perplexity"]["limit"] == 20.0
    assert checks(gate)["style_delta"] == {
        "name": "style_delta",
        "value": 1.2,
        "limit": 1.25,
        "comparison": "<=",
        "passed": True,
    }
    strict = evaluate_gate(METRICS, GateThresholds(max_style_delta_ratio=1.1), "dpo")
    assert not strict["passed"]
    assert not checks(strict)["style_delta"]["passed"] and checks(strict)["perplexity"]["passed"]
    worse = evaluate_gate(METRICS, GateThresholds(max_perplexity_ratio=0.5), "sft")
    assert not worse["passed"] and not checks(worse)["perplexity"]["passed"]


def test_judge_checks_apply_only_when_a_judge_ran() -> None:
    assert set(checks(evaluate_gate(METRICS, GateThresholds(), "sft"))) == {
        "perplexity",
        "style_delta",
    }
    judged = {
        **METRICS,
        "dpo": {**METRICS["dpo"], "judge_accuracy": 2.5, "judge_style": 1.2, "win_rate": 0.4},
    }
    gate = evaluate_gate(judged, GateThresholds(max_style_delta_ratio=2, min_win_rate=0.5), "dpo")
    found = checks(gate)
    assert found["judge_accuracy"]["passed"] and not found["judge_style"]["passed"]
    assert not found["win_rate"]["passed"] and not gate["passed"]


def test_gate_needs_base_and_twin_metrics() -> None:
    with pytest.raises(ValueError, match="base and 'dpo'"):
        evaluate_gate({"base": METRICS["base"]}, GateThresholds(), "dpo")
    with pytest.raises(ValueError, match="style_delta"):
        only_perplexity = {"base": {"perplexity": 1}, "sft": {"perplexity": 1}}
        evaluate_gate(only_perplexity, GateThresholds(), "sft")


def test_config_validation_and_fingerprint() -> None:
    config = parse_config({"model_version": 3})
    assert config.model_version == "3"
    assert parse_config({"model_version": "Production"}).model_version == "production"
    with pytest.raises(InvalidInput, match="model_version"):
        parse_config({"model_version": "newest"})
    with pytest.raises(InvalidInput, match=r"thresholds\.max_perplexity_ratio"):
        parse_config({"thresholds": {"max_perplexity_ratio": 0}})
    with pytest.raises(InvalidInput, match="judge"):
        parse_config({"judge": "sometimes"})
    base = parse_config({}).fingerprint(version=1)
    assert parse_config({"promote_to": "production", "force": True}).fingerprint(version=1) == base
    assert parse_config({"max_samples": 5}).fingerprint(version=1) != base
    assert parse_config({}).fingerprint(version=2) != base
