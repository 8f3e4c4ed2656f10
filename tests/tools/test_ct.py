"""`tools/ct.py`: trains when the warehouse changed enough, records what it trained on, skips
otherwise. The stage here is a real (small) feature-engineering run through ZenML."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _ct(*args, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "tools.ct", *args],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def three_articles(settings_env, sample_warehouse_dir):
    from llm_twin.domain.documents import ArticleDocument
    from llm_twin.infrastructure.db.mongo import open_warehouse

    records = json.loads((sample_warehouse_dir / "ArticleDocument.json").read_text())
    records = sorted(records, key=lambda r: len(r["content"]["Content"]))[:3]
    with open_warehouse() as warehouse:
        warehouse.articles.upsert_many([ArticleDocument.from_mongo(r) for r in records])
    return records


def _config(tmp_path, min_documents=2):
    features = tmp_path / "features.yaml"
    features.write_text(
        yaml.safe_dump({"parameters": {"categories": ["articles"], "chunking": {"articles": {}}}})
    )
    config = tmp_path / "ct.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "threshold": {"min_documents": min_documents, "min_fraction": 0.5},
                "stages": [{"pipeline": "feature_engineering", "config": str(features)}],
            }
        )
    )
    return str(config)


@pytest.mark.slow
def test_trains_on_change_then_skips_until_enough_changed(
    settings_env, zenml_store, three_articles, tmp_path
):
    from llm_twin.application.change_detection import load_state
    from llm_twin.domain.documents import ArticleDocument
    from llm_twin.infrastructure.db.mongo import open_warehouse
    from llm_twin.settings import get_settings

    config = _config(tmp_path)
    dry = _ct("--config", config, "--dry-run")
    assert dry.returncode == 0, dry.stderr[-2000:]
    report = json.loads(dry.stdout)
    assert report["decision"] == "skip" and "[dry run]" in report["reason"]
    assert report["changes"]["new"] == 3 and "no earlier training" in report["reason"]
    assert load_state(settings_env) is None

    first = _ct("--config", config)
    assert first.returncode == 0, first.stderr[-3000:]
    report = json.loads(first.stdout)
    assert report["decision"] == "train"
    assert report["stages"]["feature_engineering"]["counts"]["documents_processed"] == 3
    assert load_state(settings_env)["snapshot"]["articles"].keys() == {
        record["_id"] for record in three_articles
    }

    again = json.loads(_ct("--config", config).stdout)
    assert again["decision"] == "skip" and again["changes"]["count"] == 0

    # One edited article of three: below 2 documents but 33% < 50%: still skipped...
    edited = dict(three_articles[0])
    edited["content"] = {**edited["content"], "Content": edited["content"]["Content"] + " New."}
    get_settings.cache_clear()
    with open_warehouse() as warehouse:
        warehouse.articles.upsert_many([ArticleDocument.from_mongo(edited)])
    skipped = json.loads(_ct("--config", config).stdout)
    assert skipped["decision"] == "skip" and skipped["changes"]["changed"] == 1
    assert "below the threshold" in skipped["reason"]
    # ...unless forced (dry run: the decision only).
    forced = json.loads(_ct("--config", config, "--force", "--dry-run").stdout)
    assert forced["reason"].startswith("--force")


def test_bad_config_is_a_clear_error(settings_env, tmp_path):
    config = tmp_path / "ct.yaml"
    config.write_text(yaml.safe_dump({"stages": [{"pipeline": "nope"}]}))
    run = _ct("--config", str(config), timeout=120)
    assert run.returncode == 2 and "stage 1 needs `pipeline:`" in run.stderr
    config.write_text(yaml.safe_dump({"threshold": {"min_docs": 3}, "stages": []}))
    run = _ct("--config", str(config), timeout=120)
    assert run.returncode == 2 and "threshold" in run.stderr and "min_docs" in run.stderr
    run = _ct("--config", str(tmp_path / "missing.yaml"), timeout=120)
    assert run.returncode == 2 and "not found" in run.stderr
