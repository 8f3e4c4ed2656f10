"""The vLLM recipe: the command serves the registry folder with the committed config, the API
settings match the config, and a missing vllm says so instead of failing obscurely."""

import json
import shlex
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from llm_twin.domain.exceptions import InvalidInput
from tests.infrastructure.aws.test_sagemaker_deploy import data_dir  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parents[2]


def test_plan_matches_the_committed_config(tmp_path: Path) -> None:
    from tools.vllm_serve import DEFAULT_CONFIG, vllm_plan

    config = yaml.safe_load(DEFAULT_CONFIG.read_text())
    plan = vllm_plan(tmp_path / "model", DEFAULT_CONFIG)
    assert plan["command"] == [
        "vllm",
        "serve",
        str(tmp_path / "model"),
        "--config",
        str(DEFAULT_CONFIG),
    ]
    assert plan["settings"] == {
        "LLM_BACKENDS": "openai,local",
        "OPENAI_BASE_URL": f"http://localhost:{config['port']}/v1",
        "OPENAI_MODEL_ID": config["served-model-name"],
    }
    # The API keeps its own port.
    assert config["port"] != 8000
    broken = tmp_path / "broken.yaml"
    broken.write_text("port: 8001\n")
    with pytest.raises(InvalidInput, match="served-model-name"):
        vllm_plan(tmp_path, broken)
    with pytest.raises(InvalidInput, match="does not exist"):
        vllm_plan(tmp_path, tmp_path / "missing.yaml")


def test_cli_resolves_the_production_folder_and_explains_a_missing_vllm(
    data_dir: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from llm_twin.settings import get_settings
    from tools.vllm_serve import app

    monkeypatch.setenv("DATA_DIR", str(data_dir))
    monkeypatch.setenv("PATH", str(data_dir))  # no vllm on PATH
    monkeypatch.chdir(data_dir.parent)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        printed = runner.invoke(app, [])
        assert printed.exit_code == 0, printed.output
        plan = json.loads(printed.stdout.strip().splitlines()[0])
        assert plan["version"] == 2
        assert plan["command"][2] == str(data_dir / "registry" / "llm-twin" / "2" / "model")
        assert plan["vllm_installed"] is False

        refused = runner.invoke(app, ["--version", "1", "--exec"])
        assert refused.exit_code == 3
        assert "`vllm` command is not installed" in refused.output
        assert (
            shlex.join(["vllm", "serve", str(data_dir / "registry" / "llm-twin" / "1" / "model")])
            in refused.output
        )

        missing = runner.invoke(app, ["--version", "9"])
        assert missing.exit_code == 2 and "no version 9" in missing.output
    finally:
        get_settings.cache_clear()
