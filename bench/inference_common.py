"""Shared helpers of the inference benchmarks: an indexed sample corpus and a running service."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.rag_common import ROOT, index_sample_corpus, log, use_data_dir

DEFAULT_DIR = ROOT / "data" / "bench" / "inference"


def prepare_corpus(data_dir: Path) -> dict:
    """Index the shared sample corpus under ``data_dir`` (idempotent); returns sync counts."""
    use_data_dir(data_dir)
    from llm_twin.infrastructure.db.mongo import open_warehouse
    from llm_twin.infrastructure.db.vector_store import open_vector_store

    with open_warehouse() as warehouse, open_vector_store() as store:
        return index_sample_corpus(store, warehouse)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_service(data_dir: Path, port: int, env: dict[str, str]) -> subprocess.Popen:
    """Start ``tools.serve`` on 127.0.0.1:``port`` over ``data_dir`` and wait until ready."""
    full_env = {**os.environ, "DATA_DIR": str(data_dir), **env}
    full_env.pop("DATABASE_HOST", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "tools.serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=full_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"service exited: {process.stderr.read()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2).status_code == 200:
                log(f"service ready on port {port}")
                return process
        except httpx.HTTPError:
            pass
        time.sleep(1)
    process.terminate()
    raise RuntimeError("service not ready within 300 s")


def stop_service(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


def start_local_service(**settings: str) -> tuple[subprocess.Popen, str]:
    """Start the service over :data:`DEFAULT_DIR` on the local base model (converted once),
    with ``settings`` as extra environment; returns the process and its base URL."""
    from llm_twin.model.base_model import BASE_MODEL_NAME, prepare_base_model

    model_dir = prepare_base_model(ROOT / "data" / "models" / BASE_MODEL_NAME)
    port = free_port()
    env = {"LLM_BACKENDS": "local", "LLM_MODEL_PATH": str(model_dir), "LOG_LEVEL": "WARNING"}
    process = start_service(DEFAULT_DIR, port, env | settings)
    return process, f"http://127.0.0.1:{port}"


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]
