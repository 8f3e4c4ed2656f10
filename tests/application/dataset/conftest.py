"""Fixtures of the dataset tests: documents, a scriptable fake OpenAI-compatible server on
127.0.0.1 (the process boundary) and a tiny Llama model built from a config in a second."""

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from tiny_llm import save_tiny_chat_llama

from llm_twin.application.dataset.samples import SourceDocument

PARAGRAPHS = [
    "Retrieval-augmented generation grounds a model's answer in documents it retrieves at "
    "query time. I index my articles into a vector database, embed the question, and hand the "
    "nearest chunks to the model as context. The answers cite their sources, which makes "
    "wrong answers easy to spot and fix.",
    "Fine-tuning with LoRA freezes the base weights and trains two small matrices per layer. "
    "On a laptop this means a 135M-parameter model can be adapted in minutes. I keep the "
    "learning rate low and watch the evaluation loss, because small datasets overfit quickly.",
    "Preference alignment with DPO needs pairs of answers: one the author would write and one "
    "they would not. The contrast between them is what the model learns. Generic answers from "
    "a base model make good rejected examples, because they lack the author's voice entirely.",
]


def _make_document(number: int, category: str = "articles", **overrides: str) -> SourceDocument:
    """A document of three distinct paragraphs, unique per ``number``."""
    notes = [f"{p} This is note {number}-{i} of the series." for i, p in enumerate(PARAGRAPHS)]
    content = "\n\n".join(notes)
    values = {
        "document_id": f"00000000-0000-0000-0000-{number:012d}",
        "category": category,
        "author_full_name": "Jane Doe",
        "link": f"https://example.com/{category}/{number}",
        "title": f"Notes on language models, part {number}",
        "content": content,
    }
    values.update(overrides)
    return SourceDocument(**values)


@pytest.fixture
def make_document() -> Callable[..., SourceDocument]:
    """``make_document(number, category="articles", **fields)``: a document of three distinct
    paragraphs, unique per ``number``."""
    return _make_document


@pytest.fixture
def paragraphs() -> list[str]:
    """The three paragraphs documents are made of."""
    return list(PARAGRAPHS)


@dataclass
class FakeServer:
    """A fake chat-completions server whose replies come from ``reply(body) -> str``.

    Attributes:
        reply: Builds the assistant message content from the request body.
        requests: Bodies received.
        url: Base URL (``http://127.0.0.1:<port>/v1``).
    """

    reply: Callable[[dict], str] = lambda body: ""
    requests: list[dict] = field(default_factory=list)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(fake: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with fake.lock:
                fake.requests.append(body)
                content = fake.reply(body)
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

    return Handler


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    """A running fake OpenAI-compatible server; set ``.reply`` to script it."""
    fake = FakeServer()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer Llama with random weights and a ChatML BPE tokenizer, saved to disk; the
    end-of-sequence token is suppressed so every reply is ``max_new_tokens`` long."""
    return save_tiny_chat_llama(tmp_path_factory.mktemp("tiny-llm"), PARAGRAPHS * 3, 1024)
