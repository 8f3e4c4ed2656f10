"""Byte-compile, once at setup, the modules this project's commands import.

    python -m tools.bytecode          # run by tools/setup.sh after installing

Why: ``tools/setup.sh`` installs with ``pip --no-compile`` (pip would compile all ~28k files of
the venv one at a time, ~2.5 min), counting on Python to compile what a command imports on first
use and cache it. Where ``PYTHONDONTWRITEBYTECODE`` is set (as on this project's CI machines)
nothing is ever cached, and every pipeline process compiles torch, transformers and ZenML again:
~40 s to import the stack instead of ~21 s. This imports, with bytecode writing on, every module
that the project's own code imports (found by reading its source, so the list never goes stale),
in two processes side by side (one for the torch family, one for the rest), which caches exactly
what the commands need in about half a minute.

Importing is safe: no module of this project does I/O at import time.
"""

import ast
import importlib
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The project's packages whose imports are compiled (tests and benchmarks are not).
PACKAGES = ("llm_twin", "pipelines", "steps", "tools")
#: Top-level modules that pull in torch: compiled in their own process, beside the rest.
TORCH_FAMILY = frozenset(
    {
        "accelerate",
        "ctranslate2",
        "datasets",
        "peft",
        "sentence_transformers",
        "torch",
        "transformers",
        "trl",
    }
)


def _sources() -> list[Path]:
    """The ``.py`` files of the project's packages, in a stable order."""
    return [path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))]


def project_modules() -> list[str]:
    """Dotted names of the project's own modules (``llm_twin.settings``, ``steps.training``…)."""
    names = []
    for path in _sources():
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names.append(".".join(parts))
    return names


def imported_modules() -> dict[str, set[str]]:
    """Every absolute module name imported anywhere in the project's code, including the
    imports inside functions (heavy libraries are imported lazily there), with the names taken
    from it (``from transformers import Trainer``: transformers loads ``Trainer`` lazily)."""
    names: dict[str, set[str]] = {}
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    names.setdefault(alias.name, set())
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.setdefault(node.module, set()).update(a.name for a in node.names)
    return dict(sorted(names.items()))


def groups() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(torch family, everything else): third-party imports first, then the project's modules."""
    own = set(PACKAGES)
    third_party = {
        name: taken for name, taken in imported_modules().items() if name.split(".")[0] not in own
    }
    torch_family = {
        name: taken for name, taken in third_party.items() if name.split(".")[0] in TORCH_FAMILY
    }
    rest = {name: taken for name, taken in third_party.items() if name not in torch_family}
    return torch_family, rest | {name: set() for name in project_modules()}


def import_all(modules: dict[str, set[str]]) -> list[str]:
    """Import ``modules`` and the names taken from them with bytecode writing on.

    Returns:
        ``"module (error)"`` for each module that could not be imported (optional extras such
        as the GPU-only ``bitsandbytes`` are absent on CPU machines); the rest is compiled.
    """
    sys.dont_write_bytecode = False
    missing = []
    for name, taken in modules.items():
        try:
            module = importlib.import_module(name)
            for attribute in taken:
                if not hasattr(module, attribute):  # a lazy attribute loads here
                    importlib.import_module(f"{name}.{attribute}")
        except Exception as error:  # reported by main(); compiling the rest still helps
            missing.append(f"{name} ({type(error).__name__})")
    return missing


#: Prefix of a child's report lines on stderr (the rest of its stderr is library warnings).
REPORT = "==> not byte-compiled (its import failed; optional extras are absent on CPU): "


def main() -> None:
    if len(sys.argv) > 1:  # a child: import the group named on the command line
        group = groups()[int(sys.argv[1])]
        missing = import_all(group)
        for line in missing:
            print(REPORT + line, file=sys.stderr)
        sys.exit(0 if len(missing) < len(group) else 1)
    from llm_twin.settings import apply_offline_defaults

    apply_offline_defaults()  # the children inherit it: importing ZenML, Comet… stays offline
    started = time.perf_counter()
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "tools.bytecode", str(index)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in (0, 1)
    ]
    failed = False
    for child in children:
        _, errors = child.communicate()
        # Only the children's own report: import-time warnings of libraries are not actionable.
        for line in errors.splitlines():
            if line.startswith(REPORT):
                print(line, file=sys.stderr)
        failed = failed or child.returncode != 0
    if failed:
        sys.exit("error: byte-compiling the project's imports failed")
    print(
        f"==> byte-compiled the project's imports in {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
