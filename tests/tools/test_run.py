"""`tools/run.py` runs a real ZenML pipeline and prints exactly one JSON line on stdout."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _run(args, env):
    return subprocess.run(
        [sys.executable, "-m", "tools.run", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def env(settings_env, zenml_store):
    return dict(os.environ)


def test_digital_data_etl_user_step_through_zenml(env, tmp_path):
    config = tmp_path / "etl.yaml"
    config.write_text("parameters:\n  user_full_name: Grace Hopper\n")

    first = _run(["digital_data_etl", "--config", str(config), "--no-cache"], env)
    assert first.returncode == 0, first.stderr[-3000:]
    lines = first.stdout.strip().splitlines()
    assert len(lines) == 1, first.stdout  # logs went to stderr
    summary = json.loads(lines[0])
    assert summary["pipeline"] == "digital_data_etl"
    assert summary["status"] == "completed"
    assert summary["counts"]["users_created"] == 1
    assert summary["duration_s"] > 0 and summary["run_id"]

    second = json.loads(_run(["digital_data_etl", "-c", str(config), "--no-cache"], env).stdout)
    assert second["counts"]["users_created"] == 0  # idempotent: the user exists now

    from llm_twin.infrastructure.db.mongo import open_warehouse
    from llm_twin.settings import get_settings

    get_settings.cache_clear()
    with open_warehouse() as warehouse:
        assert warehouse.users.find_by_full_name("Grace Hopper") is not None
        assert warehouse.users.count() == 1


def test_unknown_pipeline_and_missing_config_are_clear_errors(env, tmp_path):
    unknown = _run(["no_such_pipeline"], env)
    assert unknown.returncode == 2
    assert "unknown pipeline 'no_such_pipeline'" in unknown.stderr
    missing = _run(["digital_data_etl", "--config", str(tmp_path / "nope.yaml")], env)
    assert missing.returncode == 2
    assert "does not exist" in missing.stderr


def test_set_overrides_parameters_and_rejects_unknown_ones(env, tmp_path):
    from tools.run import load_config, load_pipeline, parse_overrides

    pipeline = load_pipeline("end_to_end_data")
    overrides = parse_overrides(
        pipeline, ["import_dir=", "etl_configs=[configs/a.yaml]", "preference_datasets=false"]
    )
    assert overrides == {
        "import_dir": "",
        "etl_configs": ["configs/a.yaml"],
        "preference_datasets": False,
    }
    config = tmp_path / "c.yaml"
    config.write_text("parameters:\n  import_dir: sample\n  preference_datasets: true\n")
    merged, zenml_settings = load_config(pipeline, config, overrides)
    assert merged.model_dump(include=set(overrides)) == overrides
    assert zenml_settings == {}
    assert "import_dir: sample" in config.read_text()  # the user's file is left alone
    unchanged, _ = load_config(pipeline, config, {})
    assert unchanged.import_dir == "sample" and unchanged.preference_datasets is True

    bad = _run(["end_to_end_data", "--set", "importdir=x"], env)
    assert bad.returncode == 2
    assert "--set importdir: the pipeline has no such parameter" in bad.stderr
    malformed = _run(["end_to_end_data", "--set", "import_dir"], env)
    assert malformed.returncode == 2 and "expected KEY=VALUE" in malformed.stderr


def test_bad_config_value_is_one_error_line_naming_the_key(env, tmp_path):
    config = tmp_path / "etl.yaml"
    config.write_text(yaml.safe_dump({"parameters": {"user_full_nam": "Ada Lovelace"}}))
    result = _run(["digital_data_etl", "--config", str(config), "--set", "force=maybe"], env)
    assert result.returncode == 1
    summary = json.loads(result.stdout)
    assert summary["status"] == "failed" and "user_full_nam" in summary["error"]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr[-3000:]
    assert errors[0].startswith("error: invalid digital_data_etl config: ")
    for key in ("user_full_name: Field required", "user_full_nam: Extra inputs", "force: "):
        assert key in errors[0]
    assert "Traceback" not in result.stderr
