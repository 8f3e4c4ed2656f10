"""End to end: `tools.run training` on the tiny model through ZenML: continued pretraining on the
author's documents, SFT + DPO, a registered production version and a JSON summary with numeric
counts; a second run reuses the version; a bad config and a missing dataset fail with clear
messages."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.model.conftest import build_tiny_model
from tests.model.finetuning.conftest import save_documents, save_pt_datasets

ROOT = Path(__file__).resolve().parents[2]


def run_training(config: Path, env: dict) -> tuple[subprocess.CompletedProcess, dict]:
    result = subprocess.run(
        [sys.executable, "-m", "tools.run", "training", "--config", str(config)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout + result.stderr[-3000:]
    return result, json.loads(lines[0])


@pytest.fixture(scope="module")
def tiny_base_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-base"))


@pytest.fixture
def env(tmp_path: Path, zenml_store: Path) -> dict:
    data_dir = tmp_path / "data"
    return {
        **os.environ,
        "DATA_DIR": str(data_dir),
        "PYTHONPATH": str(ROOT),
        "COMET_OFFLINE_DIRECTORY": str(data_dir / "comet"),
        "OMP_NUM_THREADS": "1",
    }


def write_config(path: Path, parameters: dict) -> Path:
    path.write_text(yaml.safe_dump({"parameters": parameters}))
    return path


def tiny_parameters(base: Path) -> dict:
    return {
        "model_name": "llm-twin",
        "base_model": str(base),
        "device": "cpu",
        "lora": {"r": 8, "alpha": 16, "dropout": 0.0},
        "pt": {
            "enabled": True,
            "block_size": 32,
            "max_steps": 3,
            "batch_size": 4,
            "gradient_accumulation_steps": 1,
            "learning_rate": 1e-2,
            "eval_blocks": 1,
            "save_steps": 3,
        },
        "sft": {
            "max_steps": 4,
            "batch_size": 6,
            "gradient_accumulation_steps": 1,
            "learning_rate": 1e-2,
            "max_length": 128,
            "save_steps": 2,
        },
        "dpo": {
            "max_steps": 3,
            "batch_size": 6,
            "gradient_accumulation_steps": 1,
            "learning_rate": 5e-3,
            "max_length": 128,
            "save_steps": 3,
        },
        "tracking": "comet",
        "promote_to": "production",
    }


def test_training_pipeline_registers_a_production_version_once(
    env: dict, tiny_base_model: Path, tmp_path: Path
) -> None:
    data_dir = Path(env["DATA_DIR"])
    versions = save_pt_datasets(data_dir)
    save_documents(data_dir)
    config = write_config(tmp_path / "training.yaml", tiny_parameters(tiny_base_model))
    result, summary = run_training(config, env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert summary["pipeline"] == "training" and summary["status"] == "completed"
    counts = summary["counts"]
    assert counts["pt_steps"] == 3 and counts["pt_train_documents"] == 3
    assert counts["sft_steps"] == 4 and counts["dpo_steps"] == 3
    assert counts["sft_train_samples"] == 6 and counts["dpo_train_samples"] == 6
    for key in ("sft_loss_start", "sft_loss_end", "dpo_reward_margin_end", "dpo_loss_end"):
        assert isinstance(counts[key], float), key
    assert counts["model_version"] == 1 and counts["models_registered"] == 1
    assert counts["reused"] == 0

    from llm_twin.model.registry import production_model_path
    from llm_twin.settings import Settings

    production = production_model_path(Settings(_env_file=None, DATA_DIR=data_dir))
    assert production is not None and (production / "config.json").is_file()
    record = json.loads((production.parent / "version.json").read_text())
    assert record["dataset_versions"] == versions
    assert (production.parent / "adapters" / "pt" / "adapter_config.json").is_file()
    assert record["metrics"]["pt_steps"] == 3
    # The pt and SFT models merged for the next stage are gone (the adapters rebuild them).
    (pt_folder,) = (data_dir / "training" / "pt").iterdir()
    (run_folder,) = (data_dir / "training" / "runs").iterdir()
    assert (pt_folder / "adapter").is_dir() and (run_folder / "sft" / "adapter").is_dir()
    assert not (pt_folder / "merged").exists() and not (run_folder / "sft" / "merged").exists()
    assert record["stage"] == "production"
    # Comet ran offline: an archive to upload later.
    assert list((data_dir / "comet").glob("*.zip"))

    # The same data with promote_to: staging (the smoke config's): the version is reused and
    # stays in production, never moved back.
    staging = write_config(
        tmp_path / "staging.yaml", {**tiny_parameters(tiny_base_model), "promote_to": "staging"}
    )
    again_result, again = run_training(staging, env)
    assert again_result.returncode == 0, again_result.stderr[-3000:]
    assert again["counts"]["reused"] == 1 and again["counts"]["models_registered"] == 0
    assert again["counts"]["model_version"] == 1
    assert "sft_steps" not in again["counts"]
    assert json.loads((production.parent / "version.json").read_text())["stage"] == "production"


def test_bad_config_and_missing_dataset_fail_clearly(
    env: dict, tiny_base_model: Path, tmp_path: Path
) -> None:
    bad = write_config(
        tmp_path / "bad.yaml", {**tiny_parameters(tiny_base_model), "sft": {"learning_rate": -1}}
    )
    result, summary = run_training(bad, env)
    assert result.returncode != 0
    assert summary["status"] == "failed"
    assert "sft.learning_rate" in summary["error"]

    no_data = write_config(tmp_path / "nodata.yaml", tiny_parameters(tiny_base_model))
    result, summary = run_training(no_data, env)
    assert result.returncode != 0
    assert "no instruct dataset" in result.stderr + json.dumps(summary)
