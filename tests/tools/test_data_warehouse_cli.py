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


def test_malformed_database_host_is_one_line(settings_env):
    """Issue 18, finding 7: a malformed DATABASE_HOST gives one ``error:`` line, no traceback."""
    env = dict(os.environ) | {"DATABASE_HOST": "mongodb://admin:hunter2@127.0.0.1:notaport/"}
    result = _cli("tools.data_warehouse", "import-json", env=env)
    assert result.returncode == 2
    assert (
        result.stderr.strip().splitlines()
        == [line for line in result.stderr.strip().splitlines() if line.startswith("error:")]
        != []
    )
    assert "DATABASE_HOST is not a valid MongoDB URI" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout


def test_warehouse_dying_mid_import_is_one_line(monkeypatch, tmp_path):
    """Issue 18, finding 7: the server going away during the upserts gives one ``error:`` line
    (exit 2), not a pymongo traceback."""
    import contextlib

    import pymongo
    from typer.testing import CliRunner

    import llm_twin.infrastructure.db.mongo as mongo
    from tools.data_warehouse import app

    class _Dying:
        def upsert_many(self, entities):
            raise pymongo.errors.AutoReconnect("connection closed")

    class _Warehouse:
        users = _Dying()

        def documents(self, category):
            return _Dying()

    monkeypatch.setattr(mongo, "open_warehouse", lambda: contextlib.nullcontext(_Warehouse()))
    result = CliRunner().invoke(app, ["import-json"])
    assert result.exit_code == 2, result.output
    assert "the warehouse failed during the import (AutoReconnect)" in result.output
    assert "Traceback" not in result.output


def test_quickstart_stops_the_warehouse_server_it_started_and_only_that(tmp_path, monkeypatch):
    from llm_twin.infrastructure.db.embedded_mongo import EmbeddedMongo
    from llm_twin.settings import Settings
    from tools.quickstart import warehouse_stopper

    monkeypatch.delenv("DATABASE_HOST", raising=False)
    settings = Settings(DATA_DIR=tmp_path)
    assert settings.uses_embedded_mongo
    server = EmbeddedMongo(settings.warehouse_dir)
    server.stop()
    stop = warehouse_stopper(settings)  # nothing ran when the quickstart began
    server.ensure_running()  # its stages start the server
    assert stop() is True and server.status() is None
    server.ensure_running()  # already up when a quickstart begins: left running
    assert warehouse_stopper(settings)() is False and server.status() is not None
    server.stop()
    # A configured server (DATABASE_HOST) is never stopped.
    remote = Settings(DATA_DIR=tmp_path, DATABASE_HOST="mongodb://127.0.0.1:9/")
    assert warehouse_stopper(remote)() is False
