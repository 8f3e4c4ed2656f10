"""The model registry: numbered versions with complete folders and cards, stages with a single
production version (mirrored into ZenML's Model Control Plane), the production path the
inference service loads, and the list/promote commands."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from registry_versions import training_outcome

from llm_twin.domain.exceptions import InvalidInput
from llm_twin.model.finetuning.config import parse_config
from llm_twin.model.finetuning.run import TrainingOutcome
from llm_twin.model.registry import ModelRegistry, production_model_path, registry_root
from llm_twin.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def outcome_in(folder: Path, fingerprint: str, loss_end: float) -> TrainingOutcome:
    """A training outcome whose files are real folders (a model config, adapter configs, a PNG)
    as ``run_training`` leaves them, without the cost of training."""
    run_dir = folder / "training" / "runs" / fingerprint
    model_dir = run_dir / "dpo" / "merged"
    model_dir.mkdir(parents=True)
    (model_dir / "config.json").write_text('{"model_type": "llama"}')
    return training_outcome(
        run_dir,
        model_dir,
        fingerprint,
        base_model="offline:smollm2-135m-instruct",
        metrics={"sft_loss_start": 2.5, "sft_loss_end": loss_end, "dpo_reward_margin_end": 0.1},
        comet={"experiment_key": "abc"},
        duration_s=12.5,
    )


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def test_versions_are_numbered_complete_and_carded(data_dir: Path) -> None:
    registry = ModelRegistry(
        registry_root(Settings(_env_file=None, DATA_DIR=data_dir)), zenml=False
    )
    config = parse_config({"tracking": "none"})
    first = registry.register(outcome_in(data_dir, "f1", 1.5), config)
    second = registry.register(outcome_in(data_dir, "f2", 1.2), config)
    assert [v.version for v in registry.versions()] == [1, 2]
    assert (first.stage, second.stage) == ("none", "none")
    for name in (
        "model/config.json",
        "adapters/sft/adapter_config.json",
        "adapters/dpo",
        "chat_template.jinja",
        "config.yaml",
        "training_curves.png",
        "README.md",
    ):
        assert (second.path / name).exists(), name
    card = (second.path / "README.md").read_text()
    for expected in (
        "base_model: offline:smollm2-135m-instruct",
        "20260101-aaa",
        "sft_loss_end",
        "git commit",
        "training_curves.png",
        "Data lineage",
        "learning_rate",
    ):
        assert expected in card, expected
    assert "{% generation %}" in (second.path / "chat_template.jinja").read_text()
    assert registry.find_fingerprint("f1").version == 1
    assert registry.find_fingerprint("nope") is None
    assert not list(registry.folder.glob(".*.partial"))
    record = second.to_json()
    assert set(record) >= {"version", "stage", "base_model", "path", "created_at", "metrics"}
    assert record["path"] == str(second.path / "model")


def test_promotion_keeps_one_production_version(data_dir: Path) -> None:
    settings = Settings(_env_file=None, DATA_DIR=data_dir)
    registry = ModelRegistry(registry_root(settings), zenml=False)
    config = parse_config({})
    for index in (1, 2, 3):
        registry.register(outcome_in(data_dir, f"f{index}", 1.0), config)
    assert production_model_path(settings) is None
    registry.promote(1, "staging")
    registry.promote(2, "production")
    assert production_model_path(settings) == registry.get(2).model_dir
    registry.promote(3, "production")
    stages = {v.version: v.stage for v in registry.versions()}
    assert stages == {1: "staging", 2: "archived", 3: "production"}
    assert production_model_path(settings) == registry.get(3).model_dir
    with pytest.raises(InvalidInput, match=r"no version 9 \(versions: 1, 2, 3"):
        registry.promote(9, "production")
    with pytest.raises(InvalidInput, match="unknown stage 'live'"):
        registry.promote(1, "live")


def test_zenml_model_control_plane_mirrors_versions_and_stages(
    data_dir: Path, zenml_store: Path
) -> None:
    from zenml.client import Client

    registry = ModelRegistry(
        registry_root(Settings(_env_file=None, DATA_DIR=data_dir)), name="twin-mcp-test"
    )
    config = parse_config({"model_name": "twin-mcp-test"})
    registry.register(outcome_in(data_dir, "z1", 1.0), config)
    registry.register(outcome_in(data_dir, "z2", 0.9), config)
    registry.promote(1, "production")
    registry.promote(2, "production")
    client = Client()
    versions = client.list_model_versions(model_name_or_id="twin-mcp-test")
    stages = {item.name: str(getattr(item.stage, "value", item.stage)) for item in versions}
    assert stages == {"v1": "archived", "v2": "production"}
    production = client.get_model_version("twin-mcp-test", "production")
    assert production.name == "v2"
    metadata = production.run_metadata["registry"]
    assert metadata["version"] == 2 and metadata["stage"] == "production"


def test_list_and_promote_commands(data_dir: Path, zenml_store: Path) -> None:
    settings = Settings(_env_file=None, DATA_DIR=data_dir)
    registry = ModelRegistry(registry_root(settings), zenml=False)
    registry.register(outcome_in(data_dir, "c1", 1.0), parse_config({}))
    env = {**os.environ, "DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "tools.models", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    promoted = run("promote", "--version", "1", "--stage", "production")
    assert promoted.returncode == 0, promoted.stderr[-2000:]
    listed = run("list", "--json")
    assert listed.returncode == 0, listed.stderr[-2000:]
    lines = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(item["version"], item["stage"]) for item in lines] == [(1, "production")]
    assert lines[0]["metrics"]["sft_loss_end"] == 1.0
    table = run("list")
    assert "production" in table.stdout and "llm-twin" in table.stdout
    bad = run("promote", "--version", "5", "--stage", "production")
    assert bad.returncode == 2 and "no version 5" in bad.stderr


def test_local_llm_backend_serves_the_production_twin_else_the_base_model(data_dir: Path) -> None:
    from llm_twin.infrastructure.llm.factory import build_backend
    from llm_twin.model.registry import served_model

    def local_model_path(settings: Settings) -> Path:
        return served_model(settings).path

    settings = Settings(_env_file=None, DATA_DIR=data_dir)
    assert local_model_path(settings) == settings.llm_model_path  # base model, nothing trained
    registry = ModelRegistry(registry_root(settings), zenml=False)
    version = registry.register(outcome_in(data_dir, "f1", 1.5), parse_config({"tracking": "none"}))
    assert local_model_path(settings) == settings.llm_model_path  # registered, not promoted
    registry.promote(version.version, "production")
    assert local_model_path(settings) == registry.get(1).model_dir
    assert served_model(settings).model_id == "llm-twin-v1"
    backend = build_backend("local", settings, served_model)
    assert (backend.model_path, backend.model_id) == (registry.get(1).model_dir, "llm-twin-v1")
    pinned = Settings(_env_file=None, DATA_DIR=data_dir, LLM_MODEL_PATH=data_dir / "mine")
    assert local_model_path(pinned) == data_dir / "mine"


def test_local_model_id_names_registry_versions(tmp_path):
    from llm_twin.model.registry import model_id_for

    version = tmp_path / "registry" / "llm-twin" / "3"
    (version / "model").mkdir(parents=True)
    # Without its record the folder is just a folder.
    assert model_id_for(version / "model") == "model"
    (version / "version.json").write_text("{}")
    assert model_id_for(version / "model") == "llm-twin-v3"
    assert model_id_for(tmp_path / "smollm2-135m-instruct") == "smollm2-135m-instruct"


def test_select_names_what_is_wrong(tmp_path):
    from llm_twin.domain.exceptions import InvalidInput
    from llm_twin.model.registry import ModelRegistry

    registry = ModelRegistry(tmp_path / "registry", zenml=False)
    with pytest.raises(InvalidInput, match="unknown model version 'newest'"):
        registry.select("newest")
    with pytest.raises(InvalidInput, match="no staging version"):
        registry.select("staging")
