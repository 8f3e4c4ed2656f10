"""End to end: `tools.run evaluating` through ZenML on a really trained tiny version, with a
fake judge on 127.0.0.1: the JSON summary carries every model's metrics (offline and judge) and
the gate; the report, model card and version record are written; a second run reuses them; a
bad config fails before any step."""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.model.evaluation.conftest import running_judge
from tests.model.evaluation.tiny_version import train_tiny_version
from tests.rag_corpus import DOCUMENTS, index_corpus

ROOT = Path(__file__).resolve().parents[2]
ABLITERATION_LINK, GPTQ_LINK = DOCUMENTS[0][0], DOCUMENTS[1][0]


def run_evaluation(config: Path, env: dict) -> tuple[subprocess.CompletedProcess, dict]:
    result = subprocess.run(
        [sys.executable, "-m", "tools.run", "evaluating", "--config", str(config)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout + result.stderr[-3000:]
    return result, json.loads(lines[0])


def labelled_questions(folder: Path) -> Path:
    """Two questions about the small RAG corpus with the link that answers each."""
    path = folder / "questions.jsonl"
    rows = [
        {"question": "How does abliteration remove refusals?", "links": [ABLITERATION_LINK]},
        {"question": "How does GPTQ quantize weights to 4 bits?", "links": [GPTQ_LINK]},
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def index_small_corpus(data_dir: Path) -> None:
    """Index tests/rag_corpus.py's documents into the embedded vector store of ``data_dir``."""
    from llm_twin.application.embeddings import get_embedder
    from llm_twin.application.sparse import Bm25SparseEncoder
    from llm_twin.infrastructure.db.vector_store import open_vector_store
    from llm_twin.settings import Settings

    settings = Settings(_env_file=None, DATA_DIR=data_dir)
    with open_vector_store(settings) as store:
        index_corpus(store, get_embedder(), Bm25SparseEncoder())


def judge_reply(prompt: str) -> str:
    if "Answer A:" in prompt:  # pairwise: always prefers position A (inconsistent: a tie)
        return json.dumps({"reason": "A reads better.", "better": "A"})
    return json.dumps(
        {
            "accuracy": {"analysis": "Right facts.", "score": 3},
            "style": {"analysis": "Close to the author.", "score": 2},
        }
    )


@pytest.fixture
def base_env(tmp_path: Path, zenml_store: Path) -> Iterator[dict]:
    from llm_twin.infrastructure.db.embedded_mongo import EmbeddedMongo

    data_dir = tmp_path / "data"
    environment = {
        **os.environ,
        "DATA_DIR": str(data_dir),
        "PYTHONPATH": str(ROOT),
        "COMET_OFFLINE_DIRECTORY": str(data_dir / "comet"),
        "OMP_NUM_THREADS": "1",
    }
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "JUDGE_BASE_URL", "JUDGE_API_KEY"):
        environment.pop(name, None)
    yield environment
    # The pipeline started the embedded warehouse of DATA_DIR (authors for the RAG evaluation)
    # in its own process; nothing may keep running after the test.
    EmbeddedMongo(data_dir / "warehouse").stop()


@pytest.fixture
def env(base_env: dict, tmp_path: Path) -> dict:
    train_tiny_version(Path(base_env["DATA_DIR"]), tmp_path / "tiny-base")
    return base_env


def test_evaluation_pipeline_reports_every_model_and_reuses_results(
    env: dict, tmp_path: Path
) -> None:
    parameters = {
        "max_new_tokens": 12,
        "device": "cpu",
        "judge": "always",
        "thresholds": {"max_style_delta_ratio": 100, "min_judge_style": 1.5},
        "promote_to": "production",
        "tracking": "comet",
        # The RAG evaluation answers with the evaluated version (not yet promoted, and no base
        # model in DATA_DIR/models: the run fails unless the step uses the version's folder).
        "rag_evaluation": True,
        "rag": {
            "generated": False,
            "questions_file": str(labelled_questions(tmp_path)),
            "n_generation": 1,
            "max_tokens": 4,
            "judge": "off",
        },
    }
    index_small_corpus(Path(env["DATA_DIR"]))
    config = tmp_path / "evaluating.yaml"
    config.write_text(yaml.safe_dump({"parameters": parameters}))
    with running_judge(judge_reply) as judge:
        env = {**env, "JUDGE_BASE_URL": judge.url, "JUDGE_MODEL_ID": "fake-judge"}
        result, summary = run_evaluation(config, env)
        assert result.returncode == 0, result.stderr[-3000:]
        # 3 models x 3 rows rubric + 3 rows x 2 orders pairwise.
        assert len(judge.prompts) == 9 + 6
        again_result, again = run_evaluation(config, env)
        assert again_result.returncode == 0, again_result.stderr[-3000:]
        assert len(judge.prompts) == 15  # same version, config, data and judge: reused
    assert summary["pipeline"] == "evaluating" and summary["status"] == "completed"
    metrics = summary["metrics"]
    for model in ("base", "sft", "dpo"):
        for name in ("perplexity", "style_delta", "reference_similarity", "distinct_2"):
            assert isinstance(metrics[model][name], float), (model, name)
        assert metrics[model]["judge_accuracy"] == 3.0 and metrics[model]["judge_style"] == 2.0
    assert metrics["dpo"]["tie_rate"] == 1.0 and metrics["dpo"]["win_rate"] == 0.0
    assert metrics["dpo"]["perplexity"] < metrics["base"]["perplexity"]
    assert metrics["dpo"]["heldout_perplexity"] < metrics["base"]["heldout_perplexity"]
    assert metrics["gate"]["passed"] is True and metrics["gate"]["model"] == "dpo"
    assert metrics["gate"]["decided_by"] == "all passed"
    assert metrics["gate"]["skipped"] == [
        {
            "name": "all production checks",
            "against": "production",
            "reason": "no version is in production",
        }
    ]
    assert {check["name"] for check in metrics["gate"]["checks"]} >= {
        "heldout_perplexity",
        "perplexity",
        "judge_style",
    }
    counts = summary["counts"]
    assert counts["model_version"] == 1 and counts["promoted"] == 1
    assert counts["evaluation_reused"] == 0 and counts["test_rows"] == 3
    assert again["counts"]["evaluation_reused"] == 1 and again["counts"]["promoted"] == 0
    unchanging = ("rag", "gate", "production_baseline")
    assert {k: v for k, v in again["metrics"].items() if k not in unchanging} == {
        k: v for k, v in metrics.items() if k not in unchanging
    }
    assert metrics["production_baseline"]["reason"] == "no version is in production"
    assert again["metrics"]["production_baseline"]["reevaluated"] is False
    # Now in production itself: nothing else to compare with, and the gate says so.
    assert again["metrics"]["gate"]["skipped"][0]["against"] == "production v1"
    assert again["metrics"]["gate"]["skipped"][0]["reason"] == (
        "the candidate is the production version"
    )
    rag = metrics["rag"]
    assert rag["retrieval"]["questions"] == 2 and rag["retrieval"]["recall@5"] == 1.0
    assert rag["generation"]["questions"] == 1 and rag["generation"]["mode"] == "offline"
    assert rag["generation"]["model"] == "llm-twin-v1"  # the evaluated version answered

    version = Path(env["DATA_DIR"]) / "registry" / "llm-twin" / "1"
    report = (version / "evaluation" / "report.md").read_text()
    assert "fake-judge" in report and "`judge_accuracy`" in report
    record = json.loads((version / "version.json").read_text())
    assert record["stage"] == "production" and "eval_perplexity" in record["metrics"]
    card = (version / "README.md").read_text()
    assert card.count("## Evaluation") == 1
    archives = list((Path(env["DATA_DIR"]) / "comet").glob("*.zip"))
    assert len(archives) == 1  # tracked once, not re-logged when reused
    assert record["details"]["evaluation"]["comet"]["archive"] == str(archives[0])

    from zenml.client import Client

    mirrored = Client().get_model_version("llm-twin", "v1").run_metadata
    assert mirrored["evaluation"]["gate"]["passed"] is True
    assert mirrored["evaluation"]["dpo"]["perplexity"] == metrics["dpo"]["perplexity"]


def test_production_measured_otherwise_is_evaluated_again_before_the_gate(
    env: dict, tmp_path: Path
) -> None:
    """Production v1 was evaluated by another profile (2 rows, 1 grounded answer); candidate v2
    is evaluated on 3 rows and 2 answers: production is measured again the same way first, and
    the gate compares every metric with it instead of skipping them."""
    from llm_twin.model.registry import ModelRegistry, registry_root
    from llm_twin.settings import Settings
    from tests.model.evaluation.test_evaluation_run import _clone_version

    rag = {"generated": False, "questions_file": str(labelled_questions(tmp_path))}
    # One-token answers: a byte-level BPE token holds at most one word, so no answer has a
    # statement of MIN_STATEMENT_WORDS to score and faithfulness is never measured. (With 4
    # tokens the random model's answers sometimes hold one, depending on what it was fed.)
    rag |= {"max_tokens": 1, "judge": "off"}
    parameters = {
        "max_new_tokens": 8,
        "device": "cpu",
        "judge": "never",
        "tracking": "none",
        "thresholds": {"max_style_delta_ratio": 100, "max_perplexity_ratio": 100},
        "promote_to": "production",
        "rag_evaluation": True,
    }
    index_small_corpus(Path(env["DATA_DIR"]))
    quick = tmp_path / "quick.yaml"
    parameters_quick = parameters | {"max_samples": 2, "rag": rag | {"n_generation": 1}}
    quick.write_text(yaml.safe_dump({"parameters": parameters_quick}))
    result, first = run_evaluation(quick, env)
    assert result.returncode == 0 and first["counts"]["promoted"] == 1, result.stderr[-3000:]

    registry = ModelRegistry(
        registry_root(Settings(_env_file=None, DATA_DIR=env["DATA_DIR"])), zenml=False
    )
    _clone_version(registry, 1, 2, model=None)
    thorough = tmp_path / "thorough.yaml"
    parameters_thorough = parameters | {"max_samples": 3, "rag": rag | {"n_generation": 2}}
    thorough.write_text(yaml.safe_dump({"parameters": parameters_thorough}))
    result, second = run_evaluation(thorough, env)
    assert result.returncode == 0, result.stderr[-3000:]
    baseline = second["metrics"]["production_baseline"]
    assert baseline["reevaluated"] is True and baseline["rag_reevaluated"] is True
    assert baseline["production"] == 1
    assert {"perplexity", "style_delta", "faithfulness"} <= set(baseline["stale"])
    gate = second["metrics"]["gate"]
    compared = {c["name"] for c in gate["checks"] if c["against"] == "production v1"}
    assert {"heldout_perplexity", "perplexity", "style_delta", "retrieval_recall"} <= compared
    # Only what neither measured is skipped (one-token answers are too short to score).
    skipped = [skip for skip in gate["skipped"] if skip["against"] == "production v1"]
    assert skipped == [
        {
            "name": "faithfulness",
            "against": "production v1",
            "reason": "the candidate has no value (not measured)",
        }
    ]
    saved = json.loads((registry.get(1).path / "evaluation" / "metrics.json").read_text())
    assert saved["details"]["rows"] == 3 and saved["rag"]["generation"]["questions"] == 2


def test_bad_config_fails_before_any_step(base_env: dict, tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(yaml.safe_dump({"parameters": {"model_version": "newest"}}))
    result, summary = run_evaluation(config, base_env)
    assert result.returncode != 0 and summary["status"] == "failed"
    assert "model_version" in summary["error"]


def test_rag_results_enter_the_summary_as_flat_sections() -> None:
    from steps.evaluating.publish_evaluation import summary_metrics

    rag = {
        "retrieval": {"recall@1": 0.5, "mrr": 0.7, "questions": 20, "sources": {"dense": {}}},
        "generation": {"faithfulness": None, "answer_relevance": 0.8, "mode": "offline"},
        "examples": [{"question": "q"}],
        "k": 5,
    }
    published = {"metrics": {"base": {"perplexity": 2.0}}, "gate": {"passed": True}}
    metrics = summary_metrics(published, rag)
    assert metrics["rag"] == {
        "retrieval": {"recall@1": 0.5, "mrr": 0.7, "questions": 20},
        "generation": {"answer_relevance": 0.8, "mode": "offline"},
    }
    assert metrics["base"] == {"perplexity": 2.0} and metrics["gate"] == {"passed": True}
    assert "rag" not in summary_metrics(published, None)
