"""Importing the package opens no connection, reads no settings and loads no heavy library."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _modules(package: str) -> list[str]:
    """Every module of ``package`` (a folder of the repo), found by file name: nothing is
    imported to list them."""
    names = []
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


#: The whole package and every CLI (``__main__`` modules run code when imported).
MODULES = [name for name in _modules("llm_twin") + _modules("tools") if "__main__" not in name]
HEAVY = ["torch", "transformers", "sentence_transformers", "trl", "peft", "zenml", "qdrant_client"]

PROBE = """
import json, socket, sys, threading
calls = []
def forbidden(*args, **kwargs):
    calls.append(repr(args[:2]))
    raise OSError("network access at import time")
socket.socket.connect = forbidden
socket.create_connection = forbidden
import pydantic_settings
pydantic_settings.BaseSettings.__init__ = lambda *a, **k: calls.append("settings read")
threads_before = threading.active_count()
for name in sys.argv[1:]:
    __import__(name)
print(json.dumps({
    "calls": calls,
    "heavy": sorted(m for m in %r if m in sys.modules),
    "new_threads": threading.active_count() - threads_before,
}))
"""


def test_importing_modules_does_no_io_and_loads_nothing_heavy():
    result = subprocess.run(
        [sys.executable, "-c", PROBE % (HEAVY,), *MODULES],
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"calls": [], "heavy": [], "new_threads": 0}
