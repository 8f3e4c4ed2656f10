"""The README and .env.example stay true to the code."""

import importlib.util
import tomllib
from pathlib import Path

from llm_twin.settings import setting_fields
from tools.docs_settings import stale_files

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands():
    spec = importlib.util.spec_from_file_location(
        "readme_commands", ROOT / ".ci" / "readme_commands.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.quick_start_commands((ROOT / "README.md").read_text())


def test_every_setting_is_documented():
    readme = (ROOT / "README.md").read_text()
    example = (ROOT / ".env.example").read_text()
    for group, attribute, info in setting_fields():
        name = info.alias
        assert f"`{name}`" in readme, f"{name} missing from README's configuration table"
        assert f"{name}=" in example, f"{name} missing from .env.example"
        assert info.description, f"{group}.{attribute} ({name}) has no Field description"


def test_generated_settings_docs_are_current():
    stale = stale_files(ROOT)
    assert not stale, f"stale: {[str(path) for path in stale]}; run `poe docs-settings`"


def test_quick_start_has_the_two_commands_and_poe_tasks_exist():
    main_command, test_command = _readme_commands()
    tasks = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["poe"]["tasks"]
    for command in (main_command, test_command):
        assert command.startswith("bash tools/setup.sh")
        task = command.rsplit("poe ", 1)[1].split()[0]
        assert task in tasks, f"README runs poe task {task!r}, which pyproject.toml lacks"


def test_every_registered_pipeline_has_a_poe_task():
    from pipelines import PIPELINES

    tasks = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["poe"]["tasks"]
    commands = " ".join(str(task) for task in tasks.values())
    for name in PIPELINES:
        assert f"tools.run {name}" in commands, f"pipeline {name} has no poe task"


def test_every_poe_task_is_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    tasks = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["poe"]["tasks"]
    missing = [name for name in tasks if f"`{name}`" not in readme]
    assert not missing, f"poe tasks missing from README: {missing}"
