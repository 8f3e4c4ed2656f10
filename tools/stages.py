"""Run pipelines one after another as subprocesses, each printing its JSON summary line: the
shared machinery of ``tools.quickstart`` and ``tools.ct``."""

import json
import subprocess
import sys
import time
from typing import Any

from llm_twin.settings import PROJECT_ROOT


def pipeline_arguments(name: str, config: str | None = None, **overrides: object) -> list[str]:
    """Interpreter arguments that run pipeline ``name`` with ``config`` (default
    ``configs/<name>.yaml``) and ``overrides`` of its parameters (``tools.run --set``)."""
    arguments = ["-m", "tools.run", name, "--config", config or f"configs/{name}.yaml"]
    for key, value in overrides.items():
        arguments += [
            "--set",
            f"{key}={json.dumps(value) if not isinstance(value, str) else value}",
        ]
    return arguments


def announce(name: str) -> None:
    """Print the stage banner on stderr."""
    print(f"==> {name}", file=sys.stderr, flush=True)


def run_stage(name: str, arguments: list[str]) -> dict[str, Any]:
    """Run one stage (``python <arguments>`` from the project root, logs on stderr); return its
    JSON summary with ``wall_s`` added.

    Raises:
        RuntimeError: the stage exited non-zero (its log, above, says why).
    """
    announce(name)
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, *arguments], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True
    )
    if result.returncode != 0:
        raise RuntimeError(f"stage {name} failed (exit {result.returncode}); its log is above")
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    summary["wall_s"] = round(time.perf_counter() - started, 2)
    return summary
