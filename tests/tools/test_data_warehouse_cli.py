import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args, env, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_quickstart_points_the_end_to_end_stage_at_another_export(tmp_path):
    from tools.quickstart import SAMPLE_DIR, STAGES, stage_command

    arguments = dict(STAGES)["end_to_end_data"]
    assert stage_command("end_to_end_data", arguments, SAMPLE_DIR) == arguments
    command = stage_command("end_to_end_data", arguments, tmp_path / "export")
    assert command == [*arguments, "--set", f"import_dir={(tmp_path / 'export').resolve()}"]
    training = dict(STAGES)["training"]
    assert stage_command("training", training, tmp_path) == training


def test_quickstart_stops_at_a_failing_stage_with_its_reason(settings_env):
    # No datasets yet: training refuses, and the quickstart says which stage failed.
    run = _cli("tools.quickstart", "--stages", "training", env=dict(os.environ), timeout=600)
    assert run.returncode == 2
    assert "no instruct dataset" in run.stderr
    assert "stage training failed" in run.stderr
    assert run.stdout == ""


def test_quickstart_rejects_unknown_stages(settings_env):
    run = _cli("tools.quickstart", "--stages", "training,nope", env=dict(os.environ))
    assert run.returncode == 2
    assert "unknown stage(s) nope" in run.stderr


def test_import_cli_reports_bad_input_and_exports(settings_env, tmp_path):
    env = dict(os.environ)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "UserDocument.json").write_text("not json")
    result = _cli("tools.data_warehouse", "import-json", "--dir", str(bad), env=env)
    assert result.returncode == 2
    assert "UserDocument.json: invalid JSON" in result.stderr
    assert result.stdout == ""

    exported = _cli("tools.data_warehouse", "export-json", "--dir", str(tmp_path / "out"), env=env)
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout)["records"]["UserDocument.json"] == 0


def test_secrets_never_reach_the_output(settings_env, tmp_path):
    env = dict(os.environ) | {"DATABASE_HOST": "mongodb://admin:hunter2@127.0.0.1:9/"}
    result = _cli("tools.data_warehouse", "status", env=env)
    assert result.returncode == 2
    assert "hunter2" not in result.stderr + result.stdout
    assert "admin:***@127.0.0.1:9" in result.stderr
