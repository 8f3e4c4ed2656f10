import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args, env):
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_quickstart_imports_sample_and_is_idempotent(settings_env, sample_warehouse_dir):
    env = dict(os.environ)
    runs = [_cli("tools.quickstart", "--dir", str(sample_warehouse_dir), env=env) for _ in range(2)]
    for run in runs:
        assert run.returncode == 0, run.stderr
    first, second = (json.loads(run.stdout) for run in runs)
    assert (
        first["warehouse"]
        == second["warehouse"]
        == {
            "users": 2,
            "articles": 76,
            "posts": 0,
            "repositories": 0,
        }
    )
    assert first["imported"]["articles"]["inserted"] == 76
    assert second["imported"]["articles"]["unchanged"] == 76


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
