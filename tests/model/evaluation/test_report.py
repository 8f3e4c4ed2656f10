"""The report, its plot and files, and the model card section."""

import json
from pathlib import Path

from llm_twin.model.evaluation.report import (
    CARD_END,
    CARD_START,
    METRICS,
    card_section,
    render_report,
    replace_card_section,
    write_outputs,
)

RESULT = {
    "model_name": "llm-twin",
    "version": 4,
    "fingerprint": "abc123",
    "evaluated_at": "2026-01-01T00:00:00+00:00",
    "twin": "dpo",
    "metrics": {
        "base": {"perplexity": 20.5, "style_delta": 1.4, "reference_similarity": 0.31},
        "pt": {"heldout_perplexity": 30.0, "perplexity": 18.0, "style_delta": 1.3},
        "sft": {"perplexity": 12.25, "style_delta": 0.9, "reference_similarity": 0.44},
        "dpo": {
            "perplexity": 11.0,
            "style_delta": 0.8,
            "reference_similarity": 0.5,
            "judge_accuracy": 2.5,
            "judge_accuracy_ci95": 0.3,
        },
    },
    "details": {
        "rows": 2,
        "dataset_version": "20260101-x",
        "judge": None,
        "heldout": {
            "documents": 3,
            "tokens_total": 5000,
            "tokens_scored": 4096,
            "capped": True,
            "window": 512,
        },
    },
    "gate": {
        "model": "dpo",
        "passed": False,
        "decided_by": "style_delta vs production v2",
        "checks": [
            {"name": "perplexity", "against": "base", "value": 11.0, "reference": 20.5}
            | {"limit": 20.5, "comparison": "<=", "passed": True},
            {"name": "style_delta", "against": "production v2", "value": 0.8, "reference": 0.45}
            | {"limit": 0.5, "comparison": "<=", "passed": False},
        ],
        "skipped": [
            {
                "name": "faithfulness",
                "against": "production v2",
                "reason": "production v2 has no saved value",
            }
        ],
    },
    "promotion": "not promoted to production (gate failed); stage none",
    "samples": [
        {
            "instruction": "What editor do I use?",
            "reference": "Vim, always.",
            "answers": {"base": "I am an AI.", "sft": "Vim.", "dpo": "Vim, always Vim."},
        }
    ],
    "samples_in_report": 3,
}
RAG = {
    "retrieval": {"recall@1": 0.5, "recall@5": 0.9, "mrr": 0.66, "questions": 20},
    "generation": {"faithfulness": 0.7, "answer_relevance": 0.8, "questions": 5, "mode": "offline"},
}


def test_report_compares_models_explains_metrics_and_shows_samples() -> None:
    report = render_report(RESULT)
    assert "# Evaluation of llm-twin version 4" in report
    assert "| metric | base | pt | sft | dpo | better |" in report
    assert "| `perplexity` | 20.5 | 18 | 12.25 | 11 | lower |" in report
    assert "| `heldout_perplexity` | – | 30 | – | – | lower |" in report
    assert "3 documents, 4096 of 5000 tokens scored (capped" in report
    assert "2.5 ± 0.3" in report  # judge mean with its CI
    assert f"- `style_delta`: {METRICS['style_delta'][0]}" in report
    assert "Gate **failed**" in report
    assert "Decided by: **style_delta vs production v2** (the first failing check)" in report
    assert "| `style_delta` | production v2 | 0.8 | 0.45 | <= 0.5 | **no** |" in report
    assert "- `faithfulness` vs production v2: production v2 has no saved value" in report
    assert "> Vim, always Vim." in report and "**author (reference)**" in report
    assert "## RAG" not in report


def test_rag_section_when_given() -> None:
    report = render_report(RESULT, RAG)
    assert "## RAG" in report
    assert "| `retrieval.recall@5` | 0.9 |" in report
    assert "| `generation.questions` | 5 |" in report and "`generation.mode`: offline" in report


def test_outputs_are_written_and_the_card_section_is_replaced_idempotently(tmp_path: Path) -> None:
    paths = write_outputs(tmp_path / "evaluation", RESULT, RAG)
    assert paths["plot"].read_bytes().startswith(b"\x89PNG")
    stored = json.loads(paths["metrics"].read_text())
    assert stored["metrics"]["dpo"]["perplexity"] == 11.0 and stored["rag"] == RAG
    assert "samples" not in stored
    assert json.loads(paths["samples"].read_text().splitlines()[0])["answers"]["sft"] == "Vim."
    card = "# llm-twin version 4\n\nTrained.\n"
    once = replace_card_section(card, card_section(RESULT, RAG))
    twice = replace_card_section(once, card_section(RESULT, RAG))
    assert once == twice and once.count(CARD_START) == 1 and once.count(CARD_END) == 1
    assert once.startswith(card.rstrip()) and "evaluation/report.md" in once
    assert "gate: failed (decided by: style_delta vs production v2)" in once
    changed = dict(RESULT, fingerprint="def456")
    updated = replace_card_section(once, card_section(changed))
    assert "def456" in updated and "abc123" not in updated and updated.count(CARD_START) == 1
