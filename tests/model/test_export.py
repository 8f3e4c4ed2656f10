"""Exports in the registry: a version registered from a real (tiny) merged model gets its int8
CTranslate2 folder, recorded in its record, card and listing; older versions get one with
``export-model``; GGUF is refused with the reason."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ctranslate2")

from test_registry import ROOT, outcome_in

from llm_twin.domain.exceptions import InvalidInput
from llm_twin.infrastructure.llm.exports import EXPORT_MARKER
from llm_twin.model.export import export_model, export_version, model_exports
from llm_twin.model.finetuning.config import parse_config
from llm_twin.model.registry import ModelRegistry, registry_root
from llm_twin.settings import Settings


def _real_outcome(data_dir: Path, tiny_base_model: Path, fingerprint: str):
    outcome = outcome_in(data_dir, fingerprint, 1.0)
    shutil.rmtree(outcome.model_dir)
    shutil.copytree(tiny_base_model, outcome.model_dir)
    return outcome


def test_registration_writes_and_records_the_ct2_export(tmp_path: Path, tiny_base_model: Path):
    data_dir = tmp_path / "data"
    registry = ModelRegistry(
        registry_root(Settings(_env_file=None, DATA_DIR=data_dir)), zenml=False
    )
    version = registry.register(
        _real_outcome(data_dir, tiny_base_model, "e1"), parse_config({"tracking": "none"})
    )
    export = version.path / "model-ct2-int8"
    assert (export / EXPORT_MARKER).is_file() and (export / "model.bin").is_file()
    assert json.loads((export / EXPORT_MARKER).read_text())["quantization"] == "int8"
    assert version.to_json()["exports"] == {"ct2-int8": "model-ct2-int8"}
    assert registry.get(1).to_json()["exports"] == {"ct2-int8": "model-ct2-int8"}
    assert "| exports | `model-ct2-int8/` (ct2-int8) |" in (version.path / "README.md").read_text()


def test_export_model_command_covers_older_versions(tmp_path: Path, tiny_base_model: Path):
    data_dir = tmp_path / "data"
    registry = ModelRegistry(
        registry_root(Settings(_env_file=None, DATA_DIR=data_dir)), zenml=False
    )
    version = registry.register(
        _real_outcome(data_dir, tiny_base_model, "e2"), parse_config({"tracking": "none"})
    )
    shutil.rmtree(version.path / "model-ct2-int8")  # as if registered before exports existed
    assert model_exports(version.model_dir) == {}
    env = {**os.environ, "DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "tools.models", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    done = run("export", "--version", "1", "--format", "ct2")
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.splitlines()[-1])["exports"] == {"ct2-int8": "model-ct2-int8"}
    assert (version.path / "model-ct2-int8" / EXPORT_MARKER).is_file()
    listed = run("list")
    assert "ct2-int8" in listed.stdout
    refused = run("export", "--version", "1", "--format", "gguf")
    assert refused.returncode == 2 and "GGUF export is not available" in refused.stderr
    with pytest.raises(InvalidInput, match="no version 9"):
        export_version(registry, 9)
    with pytest.raises(InvalidInput, match="unknown export format"):
        export_model(version.model_dir, "onnx")
