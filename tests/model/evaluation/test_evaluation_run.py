"""The whole evaluation of a really trained (tiny) version: base vs SFT vs DPO metrics, report
files, model card section, version record, gate and promotion, reuse by fingerprint."""

import json
import shutil
from pathlib import Path

import pytest

from llm_twin.domain.exceptions import InvalidInput
from llm_twin.model.evaluation.config import parse_config
from llm_twin.model.evaluation.report import CARD_START
from llm_twin.model.evaluation.run import evaluate, model_specs, publish
from llm_twin.model.registry import ModelRegistry, registry_root
from llm_twin.settings import Settings
from tests.model.evaluation.tiny_version import train_tiny_version

OFFLINE_METRICS = (
    "perplexity",
    "style_delta",
    "sentence_length_distance",
    "punctuation_distance",
    "reference_similarity",
    "mean_words",
    "length_ratio",
    "repeated_trigram_rate",
    "distinct_2",
)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    folder = tmp_path_factory.mktemp("evaluation")
    data_dir = folder / "data"
    assert train_tiny_version(data_dir, folder / "tiny-base") == 1
    return Settings(_env_file=None, DATA_DIR=data_dir, COMET_API_KEY=None)


def config(**values):
    return parse_config(
        {
            "max_new_tokens": 12,
            "judge": "never",
            "tracking": "none",
            "device": "cpu",
            "threads": 1,
            **values,
        }
    )


@pytest.fixture(scope="module")
def first(trained: Settings) -> dict:
    return evaluate(config(), trained)


def test_base_sft_and_dpo_are_scored_on_every_offline_metric(first: dict) -> None:
    assert first["reused"] is False and first["version"] == 1 and first["twin"] == "dpo"
    assert set(first["metrics"]) == {"base", "sft", "dpo"}
    for model, values in first["metrics"].items():
        missing = [name for name in OFFLINE_METRICS if name not in values]
        assert not missing, (model, missing)
    # The tuned models were trained on these answers: far less surprised than the random base.
    base = first["metrics"]["base"]["perplexity"]
    assert first["metrics"]["sft"]["perplexity"] < base / 2
    assert first["metrics"]["dpo"]["perplexity"] < base / 2
    assert first["details"]["rows"] == 3 and len(first["samples"]) == 3
    assert set(first["samples"][0]["answers"]) == {"base", "sft", "dpo"}
    # dpo (the registered model/, exported to CT2 at registration) answers on the CT2 engine,
    # base (no export) and sft (an adapter merged in memory) on transformers.
    assert first["details"]["generation"].startswith("ct2+transformers, greedy, max 12")


def test_publish_writes_the_report_records_the_version_and_promotes(
    trained: Settings, first: dict
) -> None:
    evaluation = config(thresholds={"max_style_delta_ratio": 100}, promote_to="staging")
    published = publish(first, evaluation, trained, zenml=False)
    assert published["gate"]["passed"] and published["promotion"] == "promoted to staging"
    registry = ModelRegistry(registry_root(trained), zenml=False)
    version = registry.get(1)
    assert version.stage == "staging"
    folder = version.path / "evaluation"
    report = (folder / "report.md").read_text()
    assert "| metric | base | sft | dpo | better |" in report and "## Sample answers" in report
    assert (folder / "metrics.png").read_bytes().startswith(b"\x89PNG")
    assert len((folder / "samples.jsonl").read_text().splitlines()) == 3
    stored = json.loads((folder / "metrics.json").read_text())
    assert stored["fingerprint"] == first["fingerprint"] and stored["gate"]["passed"]
    assert version.metrics["eval_perplexity"] == first["metrics"]["dpo"]["perplexity"]
    assert version.metrics["eval_base_perplexity"] == first["metrics"]["base"]["perplexity"]
    assert "sft_loss_end" in version.metrics  # training metrics kept
    assert version.details["evaluation"]["fingerprint"] == first["fingerprint"]
    card = (version.path / "README.md").read_text()
    assert card.count(CARD_START) == 1 and "evaluation/report.md" in card

    perplexities = first["metrics"]["dpo"]["perplexity"], first["metrics"]["base"]["perplexity"]
    too_strict = 0.5 * perplexities[0] / perplexities[1]
    strict = config(thresholds={"max_perplexity_ratio": too_strict}, promote_to="production")
    failed = publish(first, strict, trained, zenml=False)
    assert not failed["gate"]["passed"]
    assert failed["promotion"] == "not promoted to production (gate failed); stage staging"
    assert registry.get(1).stage == "staging"
    assert (version.path / "README.md").read_text().count(CARD_START) == 1


def test_same_version_config_and_data_reuse_the_results_unless_forced(
    trained: Settings, first: dict
) -> None:
    publish(first, config(), trained, zenml=False)
    again = evaluate(config(), trained)
    assert again["reused"] is True
    assert again["metrics"] == first["metrics"] and again["samples"] == first["samples"]
    assert evaluate(config(max_new_tokens=8, max_samples=1), trained)["reused"] is False


def test_version_selection_and_sft_only_versions(trained: Settings, tmp_path: Path) -> None:
    registry = ModelRegistry(registry_root(trained), zenml=False)
    assert registry.select("latest").version == 1
    assert registry.select("1").version == 1
    with pytest.raises(InvalidInput, match="no version in stage 'production'"):
        registry.select("production")
    with pytest.raises(InvalidInput, match="no version 7"):
        registry.select("7")
    empty = ModelRegistry(tmp_path / "registry", zenml=False)
    with pytest.raises(InvalidInput, match="run the training pipeline first"):
        empty.select("latest")

    version = registry.get(1)
    assert [spec.name for spec in model_specs(version, trained)] == ["base", "sft", "dpo"]
    sft_only = tmp_path / "llm-twin" / "1"
    shutil.copytree(version.path, sft_only, ignore=shutil.ignore_patterns("dpo"))
    copy = ModelRegistry(tmp_path, zenml=False).get(1)
    specs = model_specs(copy, trained)
    assert [spec.name for spec in specs] == ["base", "sft"]
    assert specs[1].path == str(copy.model_dir) and specs[1].adapter is None
