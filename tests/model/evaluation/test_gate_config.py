"""The promotion gate (against the base, against production, judge minimums) and the
evaluation config."""

import json
from pathlib import Path

import pytest

from llm_twin.domain.exceptions import InvalidInput
from llm_twin.model.evaluation.config import GateThresholds, parse_config
from llm_twin.model.evaluation.gate import (
    ALL_PASSED,
    Production,
    evaluate_gate,
    gated_comparability,
    gated_metrics,
    load_production,
)

METRICS = {
    "base": {"perplexity": 20.0, "style_delta": 1.0},
    "sft": {"perplexity": 12.0, "style_delta": 0.9},
    "dpo": {"perplexity": 11.0, "style_delta": 1.2},
}
#: A candidate with every gated metric, its RAG evaluation and what production saved.
CANDIDATE = {
    "twin": "dpo",
    "metrics": {
        "base": {"heldout_perplexity": 30.0, "perplexity": 20.0, "style_delta": 1.0},
        "dpo": {"heldout_perplexity": 21.0, "perplexity": 11.0, "style_delta": 0.8},
    },
    "comparability": {"heldout_perplexity": "h1", "perplexity": "p1", "style_delta": "s1"},
}
RAG = {
    "retrieval": {"recall@5": 0.8},
    "generation": {"faithfulness": 0.7},
    "fingerprint": "r1",
}


def checks(gate: dict) -> dict:
    return {check["label"]: check for check in gate["checks"]}


def production(**changes: float) -> Production:
    """Production v1 that measured what the candidate measured, with ``changes``."""
    values = gated_metrics(CANDIDATE, RAG) | changes
    return Production(1, values, gated_comparability(CANDIDATE, RAG))


def gate_against(prod: Production, thresholds: GateThresholds | None = None) -> dict:
    return evaluate_gate(
        CANDIDATE["metrics"],
        thresholds or GateThresholds(),
        "dpo",
        production=prod,
        candidate=gated_metrics(CANDIDATE, RAG),
        comparability=gated_comparability(CANDIDATE, RAG),
    )


def test_gate_passes_within_ratios_and_fails_beyond() -> None:
    gate = evaluate_gate(METRICS, GateThresholds(max_style_delta_ratio=1.25), "dpo")
    assert gate["passed"] and gate["model"] == "dpo" and gate["decided_by"] == ALL_PASSED
    assert checks(gate)["perplexity vs base"]["limit"] == 20.0
    assert checks(gate)["style_delta vs base"] == {
        "name": "style_delta",
        "against": "base",
        "value": 1.2,
        "reference": 1.0,
        "limit": 1.25,
        "comparison": "<=",
        "passed": True,
        "label": "style_delta vs base",
    }
    # No held-out documents scored: that comparison is listed as skipped, not dropped.
    assert gate["skipped"] == [
        {
            "name": "heldout_perplexity",
            "against": "base",
            "reason": "not measured (no held-out documents scored)",
        }
    ]
    strict = evaluate_gate(METRICS, GateThresholds(max_style_delta_ratio=1.1), "dpo")
    assert not strict["passed"] and strict["decided_by"] == "style_delta vs base"
    worse = evaluate_gate(METRICS, GateThresholds(max_perplexity_ratio=0.5), "sft")
    assert not worse["passed"] and worse["decided_by"] == "perplexity vs base"


def test_heldout_perplexity_must_beat_the_base_first() -> None:
    gate = evaluate_gate(CANDIDATE["metrics"], GateThresholds(), "dpo")
    assert gate["passed"] and next(iter(checks(gate))) == "heldout_perplexity vs base"
    strict = evaluate_gate(
        CANDIDATE["metrics"],
        GateThresholds(max_heldout_perplexity_ratio=0.5, max_perplexity_ratio=0.1),
        "dpo",
    )
    # Two checks fail: the first in check order decides.
    assert strict["decided_by"] == "heldout_perplexity vs base"


def test_gate_refuses_a_candidate_worse_than_production_and_says_which_check() -> None:
    same = gate_against(production())
    assert same["passed"] and same["decided_by"] == ALL_PASSED and not same["skipped"]
    assert same["production"] == "production v1"
    labels = list(checks(same))
    assert labels[3:] == [
        "heldout_perplexity vs production v1",
        "perplexity vs production v1",
        "style_delta vs production v1",
        "retrieval_recall vs production v1",
        "faithfulness vs production v1",
    ]
    # Production's held-out perplexity 5 % lower: beyond the 2 % tolerance.
    worse = gate_against(production(heldout_perplexity=20.0))
    assert not worse["passed"] and worse["decided_by"] == "heldout_perplexity vs production v1"
    check = checks(worse)["heldout_perplexity vs production v1"]
    assert check["reference"] == 20.0 and check["limit"] == pytest.approx(20.4)
    # Within tolerance (1 % better production) passes.
    assert gate_against(production(heldout_perplexity=20.8))["passed"]
    # Higher-is-better metrics use an absolute tolerance.
    recall = gate_against(production(retrieval_recall=0.9))
    assert recall["decided_by"] == "retrieval_recall vs production v1"
    assert checks(recall)["retrieval_recall vs production v1"]["limit"] == pytest.approx(0.85)
    assert gate_against(production(faithfulness=0.74))["passed"]
    loose = GateThresholds(production={"faithfulness": 0.5})
    assert not gate_against(production(faithfulness=0.9))["passed"]
    assert gate_against(production(faithfulness=0.9), loose)["passed"]
    # Base checks come first: a candidate that also fails against its base is decided there.
    both = gate_against(production(perplexity=5.0), GateThresholds(max_style_delta_ratio=0.5))
    assert both["decided_by"] == "style_delta vs base"


def test_incomparable_or_missing_production_values_are_skipped_with_the_reason() -> None:
    other_data = Production(
        1,
        gated_metrics(CANDIDATE, RAG) | {"perplexity": 1.0},
        gated_comparability(CANDIDATE, RAG) | {"perplexity": "p-other"},
    )
    gate = gate_against(other_data)
    assert gate["passed"]  # the much better perplexity was measured on other data
    (skipped,) = gate["skipped"]
    assert skipped["name"] == "perplexity" and skipped["against"] == "production v1"
    assert "other settings or data" in skipped["reason"] and "p-other" in skipped["reason"]

    no_rag = Production(1, gated_metrics(CANDIDATE, None), gated_comparability(CANDIDATE, None))
    reasons = {item["name"]: item["reason"] for item in gate_against(no_rag)["skipped"]}
    assert reasons == {
        "retrieval_recall": "production v1 has no saved value",
        "faithfulness": "production v1 has no saved value",
    }
    unscored = evaluate_gate(
        CANDIDATE["metrics"],
        GateThresholds(),
        "dpo",
        production=production(),
        candidate=gated_metrics(CANDIDATE, {"retrieval": {"recall@5": 0.8}, "fingerprint": "r1"}),
        comparability=gated_comparability(CANDIDATE, RAG),
    )
    assert unscored["skipped"] == [
        {
            "name": "faithfulness",
            "against": "production v1",
            "reason": "the candidate has no value (not measured)",
        }
    ]
    for absent in (
        Production.absent("no version is in production"),
        Production.absent("the candidate is the production version", 3),
    ):
        gate = gate_against(absent)
        assert gate["passed"] and len(gate["checks"]) == 3
        assert gate["skipped"] == [
            {"name": "all production checks", "against": absent.label, "reason": absent.note}
        ]


def test_production_is_read_from_its_saved_evaluation(tmp_path: Path) -> None:
    missing = load_production(2, tmp_path)
    assert missing.note.startswith("production v2 has no saved evaluation")
    (tmp_path / "metrics.json").write_text(json.dumps(CANDIDATE | {"rag": RAG}))
    saved = load_production(2, tmp_path)
    assert saved.note is None and saved.version == 2
    assert saved.metrics == {
        "heldout_perplexity": 21.0,
        "perplexity": 11.0,
        "style_delta": 0.8,
        "retrieval_recall": 0.8,
        "faithfulness": 0.7,
    }
    assert saved.comparability["faithfulness"] == "r1"
    assert saved.comparability["heldout_perplexity"] == "h1"
    (tmp_path / "metrics.json").write_text("{not json")
    assert "unreadable" in load_production(2, tmp_path).note


def test_judge_checks_apply_only_when_a_judge_ran() -> None:
    assert set(checks(evaluate_gate(METRICS, GateThresholds(), "sft"))) == {
        "perplexity vs base",
        "style_delta vs base",
    }
    judged = {
        **METRICS,
        "dpo": {**METRICS["dpo"], "judge_accuracy": 2.5, "judge_style": 1.2, "win_rate": 0.4},
    }
    gate = evaluate_gate(judged, GateThresholds(max_style_delta_ratio=2, min_win_rate=0.5), "dpo")
    found = checks(gate)
    assert found["judge_accuracy vs minimum"]["passed"]
    assert not found["judge_style vs minimum"]["passed"]
    assert not found["win_rate vs minimum"]["passed"] and not gate["passed"]
    assert gate["decided_by"] == "judge_style vs minimum"


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
    with pytest.raises(InvalidInput, match=r"thresholds\.production\.faithfulness"):
        parse_config({"thresholds": {"production": {"faithfulness": 2}}})
    with pytest.raises(InvalidInput, match="judge"):
        parse_config({"judge": "sometimes"})
    base = parse_config({}).fingerprint(version=1)
    assert parse_config({"promote_to": "production", "force": True}).fingerprint(version=1) == base
    assert parse_config({"max_samples": 5}).fingerprint(version=1) != base
    assert parse_config({"heldout_max_tokens": 100}).fingerprint(version=1) != base
    assert parse_config({}).fingerprint(version=2) != base


def test_comparability_follows_what_measures_each_metric() -> None:
    inputs = {"base_model": "b", "dataset_version": "d1", "heldout": "h"}
    base = parse_config({}).comparability(**inputs)
    # The version is not an input: two versions evaluated alike are comparable.
    assert parse_config({"model_version": "7", "force": True}).comparability(**inputs) == base
    other_data = parse_config({}).comparability(**(inputs | {"dataset_version": "d2"}))
    assert other_data["heldout_perplexity"] == base["heldout_perplexity"]
    assert other_data["perplexity"] != base["perplexity"]
    assert other_data["style_delta"] != base["style_delta"]
    longer = parse_config({"max_new_tokens": 20}).comparability(**inputs)
    assert (
        longer["perplexity"] == base["perplexity"] and longer["style_delta"] != base["style_delta"]
    )
    window = parse_config({"heldout_window": 64}).comparability(**inputs)
    assert window["heldout_perplexity"] != base["heldout_perplexity"]
    # Answers decoded one at a time vs in a padded int8 batch differ: their style is not
    # compared with production's (perplexities are, they do not depend on decoding).
    decoded = parse_config({}).comparability(**(inputs | {"generation": "ct2 batch 1"}))
    batched = parse_config({}).comparability(**(inputs | {"generation": "ct2 batch 10"}))
    assert decoded["style_delta"] != batched["style_delta"]
    assert decoded["perplexity"] == batched["perplexity"]


def test_the_generation_names_each_engine_with_its_batch_size() -> None:
    from llm_twin.model.evaluation.run import _generation

    config = parse_config({"batch_size": 4, "ct2_batch_size": 1})
    assert _generation("ct2", config) == "ct2 batch 1"
    assert _generation("ct2+transformers", config) == "ct2 batch 1+transformers batch 4"
    assert _generation("vllm", config) == "vllm"
