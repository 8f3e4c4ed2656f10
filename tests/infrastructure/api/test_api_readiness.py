"""Issue 18, finding 6: a store locked at start-up is retried in the background and the service
becomes ready without a restart; the container health checks probe ``/ready``."""

import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


class _Borrowed:
    """The shared test retriever, lent to an app that closes what its factory built."""

    def __init__(self, retriever) -> None:
        self._retriever = retriever

    def __getattr__(self, name):
        return getattr(self._retriever, name)

    def close(self) -> None:
        """The fixture owns it."""


def test_service_becomes_ready_once_the_store_opens(
    tmp_path, retriever, tiny_backend, settings_for
):
    from fastapi.testclient import TestClient

    from llm_twin.domain.exceptions import StoreUnavailable
    from llm_twin.infrastructure.api import create_app

    attempts = []

    def locked_twice(settings):
        attempts.append(time.monotonic())
        if len(attempts) <= 2:
            raise StoreUnavailable(f"vector store folder is locked by pid {1000 + len(attempts)}")
        return _Borrowed(retriever)

    settings = settings_for(tmp_path, API_STORE_RETRY_SECONDS=0.5)
    app = create_app(settings, llm=tiny_backend, retriever_factory=locked_twice)
    with TestClient(app) as client:
        first = client.get("/ready")
        assert first.status_code == 503 and "locked" in first.json()["checks"]["retriever"]
        deadline = time.monotonic() + 20
        while client.get("/ready").status_code != 200:
            assert time.monotonic() < deadline, client.get("/ready").json()
            time.sleep(0.1)
        assert client.post("/rag", json={"query": "GPTQ"}).status_code == 200
    assert len(attempts) == 3


def test_container_health_checks_probe_readiness():
    dockerfile = (ROOT / "Dockerfile").read_text()
    healthcheck = dockerfile[dockerfile.index("HEALTHCHECK") :].splitlines()[1]
    assert "8000/ready" in healthcheck
    compose = (ROOT / "docker-compose.yml").read_text()
    assert "127.0.0.1:8000/ready" in compose and "127.0.0.1:8000/health" not in compose
