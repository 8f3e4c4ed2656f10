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


def test_quickstart_runs_its_stages_and_is_idempotent(settings_env, sample_warehouse_dir, tmp_path):
    # Three real articles keep the embedding stage short; the full corpus is the README's job.
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    users = (sample_warehouse_dir / "UserDocument.json").read_text()
    (corpus / "UserDocument.json").write_text(users)
    articles = json.loads((sample_warehouse_dir / "ArticleDocument.json").read_text())[:3]
    (corpus / "ArticleDocument.json").write_text(json.dumps(articles))
    command = ["tools.quickstart", "--dir", str(corpus), "--stages", "feature_engineering"]
    runs = [_cli(*command, env=dict(os.environ), timeout=900) for _ in range(2)]
    for run in runs:
        assert run.returncode == 0, run.stderr[-3000:]
    first, second = (json.loads(run.stdout) for run in runs)
    expected = {"users": 2, "articles": 3, "posts": 0, "repositories": 0}
    assert first["warehouse"] == second["warehouse"] == expected
    assert first["imported"]["articles"]["inserted"] == 3
    assert second["imported"]["articles"]["unchanged"] == 3
    assert list(first["stages"]) == ["feature_engineering"]
    features = first["stages"]["feature_engineering"]
    assert features["status"] == "completed"
    assert features["counts"]["documents_processed"] == 3
    assert second["stages"]["feature_engineering"]["counts"]["chunks_embedded"] == 0
    assert first["vector_store"]["cleaned_documents"] == 3
    assert first["vector_store"]["embedded_chunks"] == features["counts"]["chunks_total"] > 0


def test_quickstart_rejects_unknown_stages(settings_env):
    run = _cli("tools.quickstart", "--stages", "feature_engineering,nope", env=dict(os.environ))
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
