"""Fixtures of the evaluation tests: a fake OpenAI-compatible judge on 127.0.0.1 (the process
boundary) whose replies a test scripts."""

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class FakeJudge:
    """A chat-completions server answering with ``reply(prompt) -> str``.

    Attributes:
        reply: The assistant content for the last user message.
        prompts: User messages received.
        fail_first: Answer this many requests with HTTP 500 first (transport retries).
        url: Base URL (``http://127.0.0.1:<port>/v1``).
    """

    reply: Callable[[str], str] = lambda prompt: ""
    prompts: list[str] = field(default_factory=list)
    fail_first: int = 0
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)


def judge_handler(fake: FakeJudge) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            prompt = body["messages"][-1]["content"]
            with fake.lock:
                if fake.fail_first > 0:
                    fake.fail_first -= 1
                    status, data = 500, b'{"error": {"message": "overloaded"}}'
                else:
                    fake.prompts.append(prompt)
                    status = 200
                    data = json.dumps(
                        {
                            "id": "c1",
                            "object": "chat.completion",
                            "created": 0,
                            "model": body["model"],
                            "choices": [
                                {
                                    "index": 0,
                                    "message": {"role": "assistant", "content": fake.reply(prompt)},
                                    "finish_reason": "stop",
                                }
                            ],
                        }
                    ).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@contextlib.contextmanager
def running_judge(reply: Callable[[str], str] = lambda prompt: "") -> Iterator[FakeJudge]:
    """A fake judge serving on 127.0.0.1 while the context lasts."""
    fake = FakeJudge(reply=reply)
    server = ThreadingHTTPServer(("127.0.0.1", 0), judge_handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def fake_judge() -> Iterator[FakeJudge]:
    """A running fake judge; set ``.reply`` to script it."""
    with running_judge() as fake:
        yield fake
