"""A fake OpenAI-compatible server on 127.0.0.1 (the process boundary), speaking the chat
completions protocol with and without streaming."""

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class FakeOpenAI:
    """What the fake server answers and what it received.

    Attributes:
        words: The answer, streamed one word per chunk.
        status: HTTP status to fail with (0: answer normally).
        delay: Seconds to wait before answering.
        requests: Bodies received on /v1/chat/completions.
        url: Base URL (``http://127.0.0.1:<port>/v1``).
    """

    words: list[str] = field(default_factory=lambda: ["I", " wrote", " about", " GPTQ", "."])
    status: int = 0
    delay: float = 0.0
    requests: list[dict] = field(default_factory=list)
    auth_headers: list[str] = field(default_factory=list)
    url: str = ""


def _handler(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep test output quiet
            pass

        def _json(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if fake.status:
                return self._json(fake.status, {"error": {"message": "down"}})
            self._json(200, {"object": "list", "data": [{"id": "fake-model", "object": "model"}]})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            fake.requests.append(body)
            fake.auth_headers.append(self.headers.get("Authorization", ""))
            time.sleep(fake.delay)
            if fake.status:
                return self._json(fake.status, {"error": {"message": "server broke"}})
            usage = {"prompt_tokens": 42, "completion_tokens": len(fake.words), "total_tokens": 0}
            if not body.get("stream"):
                return self._json(
                    200,
                    {
                        "id": "c1",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body["model"],
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": "".join(fake.words)},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": usage,
                    },
                )
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()

            def send(payload: dict) -> None:
                self.wfile.write(f"data: {json.dumps(payload)}\n\n".encode())
                self.wfile.flush()

            base = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "m"}
            for word in fake.words:
                send({**base, "choices": [{"index": 0, "delta": {"content": word}}]})
            send({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
            if (body.get("stream_options") or {}).get("include_usage"):
                send({**base, "choices": [], "usage": usage})
            self.wfile.write(b"data: [DONE]\n\n")

    return Handler


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A running fake OpenAI-compatible server."""
    fake = FakeOpenAI()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()
