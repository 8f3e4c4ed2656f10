"""A scriptable fake OpenAI-compatible chat server on 127.0.0.1 (the process boundary), shared
by the dataset-generation, pipeline and evaluation tests: import the ``fake_server`` fixture into
a ``conftest.py`` (``tests/`` is on ``sys.path``), or use :func:`running_fake_server`."""

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class FakeServer:
    """A fake chat-completions server whose replies come from ``reply(body) -> str`` (sent
    whole, or as one streamed delta when the request asks ``stream``).

    Attributes:
        reply: Builds the assistant message content from the request body (from the request's
            last message when ``prompt_only``).
        prompt_only: Call ``reply`` with the last message's content instead of the body.
        requests: Bodies answered (not those failed with ``fail_first``).
        fail_first: Answer this many requests with HTTP 500 first (to test client retries).
        url: Base URL (``http://127.0.0.1:<port>/v1``).
    """

    reply: Callable[[Any], str] = lambda body: ""
    prompt_only: bool = False
    requests: list[dict] = field(default_factory=list)
    fail_first: int = 0
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def prompts(self) -> list[str]:
        """The last message of each answered request (the prompt a test scripted against)."""
        return [body["messages"][-1]["content"] for body in self.requests]


def _handler(fake: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with fake.lock:
                failing = fake.fail_first > 0
                if failing:
                    fake.fail_first -= 1
                else:
                    fake.requests.append(body)
                    content = fake.reply(
                        body["messages"][-1]["content"] if fake.prompt_only else body
                    )
            if failing:
                return self._overloaded()
            if body.get("stream"):
                return self._stream(body, content)
            data = json.dumps(
                {
                    "id": "c1",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": content},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _overloaded(self) -> None:
            data = b'{"error": {"message": "overloaded"}}'
            self.send_response(500)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _stream(self, body: dict, content: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            base = {"id": "c1", "object": "chat.completion.chunk", "created": 0}
            chunks = [
                {"choices": [{"index": 0, "delta": {"content": content}}]},
                {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
                {"choices": [], "usage": {"prompt_tokens": 100, "completion_tokens": 20}},
            ]
            for chunk in chunks:
                payload = {**base, "model": body["model"], **chunk}
                self.wfile.write(f"data: {json.dumps(payload)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")

    return Handler


@contextlib.contextmanager
def running_fake_server(
    reply: Callable[[Any], str] = lambda body: "", *, prompt_only: bool = False
) -> Iterator[FakeServer]:
    """A fake server on 127.0.0.1 answering with ``reply`` while the context lasts (see
    :class:`FakeServer` for ``prompt_only``)."""
    fake = FakeServer(reply=reply, prompt_only=prompt_only)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    """A running fake OpenAI-compatible server; set ``.reply`` to script it."""
    with running_fake_server() as fake:
        yield fake
