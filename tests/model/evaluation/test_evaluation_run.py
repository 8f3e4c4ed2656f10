"""The whole evaluation of a really trained (tiny) version: base vs (pt vs) SFT vs DPO metrics,
held-out-document perplexity, report files, model card section, version record, gate (against
the base and the production version) and promotion, reuse by fingerprint."""

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
from tests.model.evaluation.tiny_version import HELDOUT_TEXT, TRAIN_TEXT, train_tiny_version

OFFLINE_METRICS = (
    "heldout_perplexity",
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
    TINY_BASE["path"] = folder / "tiny-base"
    assert train_tiny_version(data_dir, TINY_BASE["path"]) == 1
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


def _tokens(text: str) -> int:
    """Tokens of ``text`` for the tiny base model's tokenizer."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(TINY_BASE["path"])
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


#: Where the module's tiny base model is (set by the ``trained`` fixture).
TINY_BASE: dict[str, Path] = {}


@pytest.fixture(scope="module")
def first(trained: Settings) -> dict:
    return evaluate(config(), trained)


def test_base_sft_and_dpo_are_scored_on_every_offline_metric(
    trained: Settings, first: dict
) -> None:
    assert first["reused"] is False and first["version"] == 1 and first["twin"] == "dpo"
    assert set(first["metrics"]) == {"base", "sft", "dpo"}
    for model, values in first["metrics"].items():
        missing = [name for name in OFFLINE_METRICS if name not in values]
        assert not missing, (model, missing)
    # The tuned models were trained on these answers: far less surprised than the random base.
    base = first["metrics"]["base"]["perplexity"]
    assert first["metrics"]["sft"]["perplexity"] < base / 2
    assert first["metrics"]["dpo"]["perplexity"] < base / 2
    # The held-out document is made of those answers too: its plain text is likelier as well.
    base_heldout = first["metrics"]["base"]["heldout_perplexity"]
    assert first["metrics"]["sft"]["heldout_perplexity"] < base_heldout
    assert first["metrics"]["dpo"]["heldout_perplexity"] < base_heldout
    # Only the held-out (test split) document was scored, whole: not the training document.
    heldout = first["details"]["heldout"]
    assert heldout["documents"] == 1 and heldout["capped"] is False
    assert heldout["tokens_scored"] == heldout["tokens_total"] == _tokens(HELDOUT_TEXT)
    assert set(first["comparability"]) == {"heldout_perplexity", "perplexity", "style_delta"}
    assert first["details"]["rows"] == 3 and len(first["samples"]) == 3
    assert set(first["samples"][0]["answers"]) == {"base", "sft", "dpo"}
    # dpo (the registered model/, exported to CT2 at registration) answers on the CT2 engine,
    # base (no export) and sft (an adapter merged in memory) on transformers.
    assert first["details"]["generation"].startswith("ct2+transformers, greedy, max 12")
    # The style comparison with production knows how the answers were decoded.
    registry = ModelRegistry(registry_root(trained), "llm-twin", zenml=False)
    inputs = {
        "base_model": registry.select(str(first["version"])).base_model,
        "dataset_version": first["details"]["dataset_version"],
    }
    decoded_so = config().comparability(**inputs, generation="ct2 batch 1+transformers batch 10")
    assert first["comparability"]["style_delta"] == decoded_so["style_delta"]
    batched = config().comparability(**inputs, generation="ct2 batch 10+transformers batch 10")
    assert first["comparability"]["style_delta"] != batched["style_delta"]


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
    assert "`heldout_perplexity`" in report and "1 documents" in report
    assert "Decided by: **all passed**" in report
    assert "`all production checks` vs production: no version is in production" in report
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
    assert not failed["gate"]["passed"] and failed["gate"]["decided_by"] == "perplexity vs base"
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
    assert specs[1].path == str(copy.model_dir) and specs[1].adapters == ()


def _copy_data(trained: Settings, tmp_path: Path) -> Settings:
    """A copy of the trained DATA_DIR (datasets, feature store, registry) to change freely."""
    copy = tmp_path / "data"
    shutil.copytree(trained.storage.data_dir, copy)
    return Settings(_env_file=None, DATA_DIR=copy, COMET_API_KEY=None)


def _add_pt_adapter(version_dir: Path) -> Path:
    """A real continued-pretraining LoRA adapter on the tiny base: a few causal-LM steps on the
    training document's plain text, saved as the version's ``adapters/pt``."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(TINY_BASE["path"])
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(TINY_BASE["path"]),
        LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", task_type="CAUSAL_LM"),
    )
    ids = torch.tensor([tokenizer(TRAIN_TEXT, add_special_tokens=False)["input_ids"]])
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    for _ in range(5):
        model(input_ids=ids, labels=ids).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    folder = version_dir / "adapters" / "pt"
    model.save_pretrained(folder)
    return folder


def _merged_state(base: Path, adapters: list[Path]) -> dict:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base)
    for adapter in adapters:
        model = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    return model.state_dict()


def test_pt_versions_compare_base_pt_sft_and_dpo(trained: Settings, tmp_path: Path) -> None:
    import torch

    from llm_twin.model.evaluation.generation import loaded
    from llm_twin.model.evaluation.report import render_report

    settings = _copy_data(trained, tmp_path)
    version = ModelRegistry(registry_root(settings), zenml=False).get(1)
    pt = _add_pt_adapter(version.path)
    sft = version.path / "adapters" / "sft"
    specs = model_specs(version, settings)
    assert [spec.name for spec in specs] == ["base", "pt", "sft", "dpo"]
    assert specs[1].adapters == (str(pt),) and specs[2].adapters == (str(pt), str(sft))
    assert specs[1].path == specs[2].path == str(TINY_BASE["path"])

    # The sft model is base, then the pt adapter merged, then the sft adapter merged on it.
    expected = _merged_state(TINY_BASE["path"], [pt, sft])
    without_pt = _merged_state(TINY_BASE["path"], [sft])
    with loaded(specs[2]) as model:
        state = model.model.state_dict()
    assert all(torch.allclose(state[key], expected[key]) for key in expected)
    assert not all(torch.allclose(state[key], without_pt[key]) for key in without_pt)

    result = evaluate(config(max_samples=2), settings)
    assert list(result["metrics"]) == ["base", "pt", "sft", "dpo"] and result["twin"] == "dpo"
    assert all("heldout_perplexity" in values for values in result["metrics"].values())
    assert set(result["samples"][0]["answers"]) == {"base", "pt", "sft", "dpo"}
    assert result["details"]["models"]["sft"] == f"{TINY_BASE['path']} + {pt} + {sft}"
    report = render_report(result | {"gate": None})
    assert "| metric | base | pt | sft | dpo | better |" in report

    # Full fine-tuning in the pt stage leaves a pt_model/ folder: the sft adapter goes on it.
    shutil.rmtree(pt)
    shutil.copytree(TINY_BASE["path"], version.path / "pt_model")
    full = model_specs(version, settings)
    assert [spec.name for spec in full] == ["base", "pt", "sft", "dpo"]
    assert full[1].path == full[2].path == str(version.path / "pt_model")
    assert full[1].adapters == () and full[2].adapters == (str(sft),)


def _clone_version(registry: ModelRegistry, source: int, number: int, model: Path | None) -> None:
    """Register a copy of version ``source`` as ``number`` (stage none, no evaluation); with
    ``model``, its merged model is that folder instead (and it has no DPO adapter or export)."""
    original = registry.get(source).path
    target = original.parent / str(number)
    shutil.copytree(original, target, ignore=shutil.ignore_patterns("evaluation"))
    if model is not None:
        for folder in ("model", "model-ct2-int8", "adapters/dpo"):
            shutil.rmtree(target / folder, ignore_errors=True)
        shutil.copytree(model, target / "model")
    record = json.loads((target / "version.json").read_text())
    record |= {"version": number, "stage": "none", "path": str(target)}
    record["details"].pop("evaluation", None)
    (target / "version.json").write_text(json.dumps(record))


def test_gate_refuses_a_candidate_worse_than_production(trained: Settings, tmp_path: Path) -> None:
    settings = _copy_data(trained, tmp_path)
    registry = ModelRegistry(registry_root(settings), zenml=False)
    loose = {"max_style_delta_ratio": 100, "max_perplexity_ratio": 100}
    loose |= {"max_heldout_perplexity_ratio": 100}
    production = publish(
        evaluate(config(force=True), settings),
        config(thresholds=loose, promote_to="production"),
        settings,
        zenml=False,
    )
    assert production["promotion"] == "promoted to production"

    # Version 2's twin is the untrained base model: far worse than production's twin.
    _clone_version(registry, 1, 2, model=TINY_BASE["path"])
    worse = publish(
        evaluate(config(model_version=2), settings),
        config(model_version=2, thresholds=loose, promote_to="production"),
        settings,
        zenml=False,
    )
    gate = worse["gate"]
    assert not gate["passed"] and gate["decided_by"] == "heldout_perplexity vs production v1"
    assert gate["production"] == "production v1"
    assert worse["promotion"] == "not promoted to production (gate failed); stage none"
    assert registry.in_stage("production").version == 1
    report = (registry.get(2).path / "evaluation" / "report.md").read_text()
    assert "Decided by: **heldout_perplexity vs production v1** (the first failing check)" in report
    assert "`retrieval_recall` vs production v1: the candidate has no value" in report
    assert registry.get(2).details["evaluation"]["gate_decided_by"] == gate["decided_by"]

    # Version 3 is the same model as production: within every tolerance, it replaces it.
    _clone_version(registry, 1, 3, model=None)
    same = publish(
        evaluate(config(model_version=3), settings),
        config(model_version=3, thresholds=loose, promote_to="production"),
        settings,
        zenml=False,
    )
    assert same["gate"]["passed"] and same["gate"]["decided_by"] == "all passed"
    compared = [c for c in same["gate"]["checks"] if c["against"] == "production v1"]
    assert [c["name"] for c in compared] == ["heldout_perplexity", "perplexity", "style_delta"]
    assert same["promotion"] == "promoted to production"
    assert registry.get(1).stage == "archived" and registry.in_stage("production").version == 3


def test_production_is_evaluated_again_like_the_candidate(
    trained: Settings, tmp_path: Path
) -> None:
    from llm_twin.model.evaluation.baseline import refresh_production
    from llm_twin.model.evaluation.gate import load_production

    settings = _copy_data(trained, tmp_path)
    registry = ModelRegistry(registry_root(settings), zenml=False)
    loose = {"max_style_delta_ratio": 100, "max_perplexity_ratio": 100}
    loose |= {"max_heldout_perplexity_ratio": 100}
    # Production v1 was evaluated on 2 test rows (another profile); the candidate on 3.
    publish(
        evaluate(config(force=True, max_samples=2), settings),
        config(max_samples=2, thresholds=loose, promote_to="production"),
        settings,
        zenml=False,
    )
    _clone_version(registry, 1, 2, model=None)
    candidate_config = config(model_version=2, max_samples=3, thresholds=loose)
    candidate = evaluate(candidate_config, settings)
    unrefreshed = publish(candidate, candidate_config, settings, zenml=False)["gate"]["skipped"]
    assert {skip["name"] for skip in unrefreshed} >= {"perplexity", "style_delta"}

    summary = refresh_production(candidate_config, settings, candidate)
    assert summary["reevaluated"] and summary["production"] == 1
    assert summary["stale"] == ["perplexity", "style_delta"]  # the held-out texts are the same
    saved = json.loads((registry.get(1).path / "evaluation" / "metrics.json").read_text())
    assert saved["details"]["rows"] == 3 and saved["comparability"] == candidate["comparability"]
    assert registry.in_stage("production").version == 1 and registry.get(2).stage == "none"
    production = load_production(1, registry.get(1).path / "evaluation")
    assert production.metrics["perplexity"] == saved["metrics"]["dpo"]["perplexity"]

    # Nothing is measured twice, and the gate now compares every twin metric.
    again = refresh_production(candidate_config, settings, candidate)
    assert not again["reevaluated"] and "measured like the candidate's" in again["reason"]
    gate = publish(candidate, candidate_config, settings, zenml=False)["gate"]
    compared = {c["name"] for c in gate["checks"] if c["against"] == "production v1"}
    assert compared == {"heldout_perplexity", "perplexity", "style_delta"}
    assert not [skip for skip in gate["skipped"] if skip["name"] in compared]

    # The 2-row evaluation is kept beside the latest: a 2-row candidate finds it, and
    # evaluating production on 2 rows again reuses it.
    assert evaluate(config(model_version=1, max_samples=2), settings)["reused"]
    quick_config = config(model_version=2, max_samples=2, thresholds=loose)
    quick = evaluate(quick_config, settings)
    kept = refresh_production(quick_config, settings, quick)
    assert not kept["reevaluated"] and "measured like the candidate's" in kept["reason"]
    quick_gate = publish(quick, quick_config, settings, zenml=False)["gate"]
    assert {c["name"] for c in quick_gate["checks"] if c["against"] == "production v1"} == compared
    assert json.loads((registry.get(1).path / "evaluation" / "metrics.json").read_text()) == saved

    # Other test rows (another instruct dataset) cannot be made comparable: left alone.
    other = candidate | {"details": candidate["details"] | {"dataset_version": "other"}}
    left = refresh_production(candidate_config, settings, other)
    assert not left["reevaluated"] and "instruct dataset" in left["reason"]
