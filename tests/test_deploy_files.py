"""The deployment files: every variable docker-compose.yml reads is documented in .env.example,
and the static checks (compose config, hadolint, actionlint) pass on the repository and fail
on a broken copy of each file."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / ".ci" / "static_checks.sh"


def test_every_compose_variable_is_in_env_example() -> None:
    compose = (ROOT / "docker-compose.yml").read_text()
    example = (ROOT / ".env.example").read_text()
    # ${NAME}, ${NAME:-default}; $$NAME escapes are for the container's shell.
    names = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)", compose))
    assert {"MONGO_USERNAME", "MONGO_PASSWORD", "API_PORT"} <= names
    missing = sorted(name for name in names if f"{name}=" not in example)
    assert not missing, f"docker-compose.yml variables missing from .env.example: {missing}"


def _tree(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    (tree / ".github").mkdir(parents=True)
    shutil.copytree(ROOT / ".github" / "workflows", tree / ".github" / "workflows")
    shutil.copytree(ROOT / "configs", tree / "configs")
    for name in ("docker-compose.yml", "Dockerfile"):
        shutil.copy(ROOT / name, tree / name)
    return tree


def _check(tree: Path) -> subprocess.CompletedProcess:
    import sys

    venv = Path(sys.executable).parent.parent
    return subprocess.run(
        ["bash", str(SCRIPT), str(tree)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "VENV": str(venv)},
    )


def _break(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        (
            "docker-compose.yml",
            "        condition: service_healthy\n      qdrant:",
            "        condition: service_healthy\n      vectors:",
            'depends on undefined service "vectors"',
        ),
        ("docker-compose.yml", "    healthcheck:", "    healthcheckk:", "healthcheckk"),
        ("Dockerfile", "FROM python:3.11-slim AS runtime", "FROM python AS runtime", "DL3006"),
        ("Dockerfile", "WORKDIR /app\nENV", "WORKDIR app\nENV", "DL3000"),
        (".github/workflows/ct.yaml", '"17 3 * * *"', '"17 25 * * *"', "cron"),
        (".github/workflows/cd.yaml", "steps.tags.outputs.tags", "steps.tagz.outputs.tags", "tagz"),
    ],
)
def test_static_checks_fail_on_broken_files(
    tmp_path: Path, file: str, old: str, new: str, message: str
) -> None:
    tree = _tree(tmp_path)
    _break(tree / file, old, new)
    result = _check(tree)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr


def test_static_checks_pass_on_the_repository(tmp_path: Path) -> None:
    result = _check(_tree(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "static checks passed" in result.stderr
