"""Issue 18, finding 1: generation is bounded (queue depth and wait, 429 + Retry-After at once),
``max_tokens`` is capped, and a request whose client left or whose deadline passed stops
generating (or never starts)."""

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from llm_twin.infrastructure.llm.base import GenerationParams, LLMBackend, Messages, TokenStream


class BlockingLLM(LLMBackend):
    """A test double at the process boundary: streams one delta, then blocks until released or
    closed; records the streams it started and the ones closed."""

    name = "blocking"
    model_id = "blocking-model"

    def __init__(self, release_after: float = 8.0) -> None:
        self.started = 0
        self.closed = 0
        self.release = threading.Event()
        # Never blocks a test for good (on code without admission control it would).
        self._timer = threading.Timer(release_after, self.release.set)
        self._timer.daemon = True
        self._timer.start()

    def check(self) -> None:
        return None

    def stream(self, messages: Messages, params: GenerationParams) -> TokenStream:
        self.started += 1
        stop = threading.Event()

        def deltas() -> Iterator[str]:
            yield "hello"
            while not (stop.is_set() or self.release.is_set()):
                time.sleep(0.01)
            if self.release.is_set():
                yield " world"

        def on_close() -> None:
            self.closed += 1
            stop.set()

        return TokenStream(deltas(), model=self.model_id, backend=self.name, on_close=on_close)


def _app(settings_for, tmp_path, retriever, llm, **overrides):
    from llm_twin.infrastructure.api import create_app

    return create_app(settings_for(tmp_path, **overrides), retriever=retriever, llm=llm)


def _wait_for(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/rag", {"query": "GPTQ", "max_tokens": 4096}, "max_tokens"),
        (
            "/v1/chat/completions",
            {"messages": [{"role": "user", "content": "GPTQ"}], "max_tokens": 4096},
            "max_tokens",
        ),
        (
            "/v1/chat/completions",
            {"messages": [{"role": "user", "content": "GPTQ"}], "max_completion_tokens": 4096},
            "max_completion_tokens",
        ),
    ],
)
def test_max_tokens_over_the_cap_is_422_naming_the_field(
    tmp_path, retriever, settings_for, path, body, field
):
    from fastapi.testclient import TestClient

    llm = BlockingLLM()
    with TestClient(_app(settings_for, tmp_path, retriever, llm)) as client:
        response = client.post(path, json=body)
    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith(f"{field}: at most 512")
    assert llm.started == 0


def test_full_queue_is_429_with_retry_after_at_once(tmp_path, retriever, settings_for):
    from fastapi.testclient import TestClient

    llm = BlockingLLM()
    app = _app(
        settings_for, tmp_path, retriever, llm,
        API_GENERATION_QUEUE_DEPTH=0, API_GENERATION_DEADLINE=30,
    )  # fmt: skip
    with TestClient(app) as client:
        first: dict[str, int] = {}
        holder = threading.Thread(
            target=lambda: first.update(
                status=client.post("/rag", json={"query": "GPTQ"}).status_code
            )
        )
        holder.start()
        _wait_for(lambda: llm.started == 1)
        asked = time.monotonic()
        refused = client.post("/rag", json={"query": "abliteration"})
        took = time.monotonic() - asked
        streamed = client.post("/rag", json={"query": "abliteration", "stream": True})
        llm.release.set()
        holder.join(timeout=10)
    assert refused.status_code == 429 and took < 2.0
    assert int(refused.headers["Retry-After"]) >= 1
    assert "busy" in refused.json()["error"]["message"]
    assert streamed.status_code == 429 and "Retry-After" in streamed.headers
    assert first["status"] == 200
    assert llm.started == 1  # the refused requests generated nothing


def test_request_timed_out_in_the_queue_never_starts(tmp_path, retriever, settings_for):
    from fastapi.testclient import TestClient

    llm = BlockingLLM()
    app = _app(
        settings_for, tmp_path, retriever, llm,
        API_GENERATION_QUEUE_DEPTH=4, API_GENERATION_QUEUE_WAIT=0.5,
    )  # fmt: skip
    with TestClient(app) as client:
        holder = threading.Thread(target=lambda: client.post("/rag", json={"query": "GPTQ"}))
        holder.start()
        _wait_for(lambda: llm.started == 1)
        queued = client.post("/rag", json={"query": "abliteration"})
        llm.release.set()
        holder.join(timeout=10)
        time.sleep(0.3)
    assert queued.status_code == 429 and "Retry-After" in queued.headers
    assert llm.started == 1


def test_deadline_stops_a_non_streaming_generation(tmp_path, retriever, settings_for):
    from fastapi.testclient import TestClient

    llm = BlockingLLM()
    app = _app(settings_for, tmp_path, retriever, llm, API_GENERATION_DEADLINE=0.5)
    with TestClient(app) as client:
        asked = time.monotonic()
        response = client.post("/rag", json={"query": "GPTQ"})
    assert response.status_code == 504 and time.monotonic() - asked < 5
    assert "deadline passed" in response.json()["error"]["message"]
    assert llm.closed == 1


def _serve(app) -> tuple[str, int, object, threading.Thread]:
    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    _wait_for(lambda: server.started, timeout=60)
    return "127.0.0.1", port, server, thread


@pytest.mark.parametrize("stream", [False, True])
def test_client_disconnect_stops_generation(tmp_path, retriever, settings_for, stream):
    """The client sends its request and hangs up mid-generation: the stream is closed."""
    import json

    llm = BlockingLLM(release_after=60)
    app = _app(settings_for, tmp_path, retriever, llm, API_GENERATION_DEADLINE=60)
    host, port, server, thread = _serve(app)
    try:
        body = json.dumps({"query": "GPTQ", "stream": stream}).encode()
        with socket.create_connection((host, port)) as conn:
            conn.sendall(
                b"POST /rag HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            _wait_for(lambda: llm.started == 1)
            if stream:
                conn.recv(10)  # the stream started
        _wait_for(lambda: llm.closed == 1, timeout=5)
        assert not llm.release.is_set()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
