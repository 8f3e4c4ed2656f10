"""Importing the package opens no connection, reads no settings and loads no heavy library."""

import json
import subprocess
import sys

MODULES = [
    "llm_twin",
    "llm_twin.settings",
    "llm_twin.domain",
    "llm_twin.infrastructure",
    "llm_twin.infrastructure.db.warehouse",
    "llm_twin.infrastructure.db.mongo",
    "llm_twin.infrastructure.db.embedded_mongo",
    "llm_twin.infrastructure.db.vector_store",
    "llm_twin.application.embeddings",
    "llm_twin.application.sparse",
    "llm_twin.application.warehouse_json",
    "llm_twin.application.preprocessing.handlers",
    "llm_twin.application.preprocessing.sync",
    "llm_twin.application.preprocessing.cdc",
    "tools.data_warehouse",
    "tools.quickstart",
    "tools.run",
    "tools.cdc",
    "llm_twin.application.rag",
    "llm_twin.infrastructure.db.edge_vector_store",
    "tools.rag",
    "llm_twin.infrastructure.llm",
    "llm_twin.infrastructure.api",
    "llm_twin.model.prompts",
    "llm_twin.model.base_model",
    "tools.serve",
    "tools.traces",
    "tools.prepare_base_model",
]
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
