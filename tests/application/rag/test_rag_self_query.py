"""Self-query: authors from names (full, partial, misspelt, any case), categories from cues."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pytest

from llm_twin.application.rag.self_query import (
    Author,
    AuthorDirectory,
    LLMSelfQuery,
    RuleSelfQuery,
    categories_in,
)
from llm_twin.domain.exceptions import InvalidInput
from llm_twin.domain.types import DataCategory
from llm_twin.infrastructure.llm.factory import openai_backend

MAXIME = Author("id-maxime", "Maxime Labonne")
PAUL = Author("id-paul", "Paul Iusztin")
OTHER_PAUL = Author("id-paul-2", "Paul Erdős")


@pytest.fixture
def rules() -> RuleSelfQuery:
    return RuleSelfQuery(AuthorDirectory([MAXIME, PAUL]))


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What did Maxime write about model merging?", [MAXIME]),
        ("what did maxime labonne write about merging", [MAXIME]),
        ("How does LABONNE explain GPTQ?", [MAXIME]),
        ("Paul's view on feature stores", [PAUL]),
        ("What does Iusztin say about the FTI architecture?", [PAUL]),
        ("what did Maxim Lbonne write about GGUF", [MAXIME]),  # misspelt
        ("How do streaming pipelines work?", []),
        ("Which model is the maximum size for a T4?", []),  # "maximum" is not "Maxime"
    ],
)
def test_author_extraction(rules, question, expected):
    assert list(rules.extract(question).authors) == expected


def test_author_name_is_removed_from_the_searched_text(rules):
    filters = rules.extract("What did Maxime Labonne write about abliteration?")
    assert filters.query == "What did write about abliteration?"
    assert rules.extract("Maxime").query == "Maxime"  # a bare name is kept: something to search


def test_ambiguous_first_name_matches_every_author_with_it_and_full_name_picks_one():
    rules = RuleSelfQuery(AuthorDirectory([MAXIME, PAUL, OTHER_PAUL]))
    assert set(rules.extract("What did Paul write about RAG?").authors) == {PAUL, OTHER_PAUL}
    assert list(rules.extract("What did Paul Iusztin write about RAG?").authors) == [PAUL]
    assert list(rules.extract("And paul erdos?").authors) == [OTHER_PAUL]  # accents folded


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What did Paul say in his posts about RAG?", (DataCategory.POSTS,)),
        ("Show me training loops in his code", (DataCategory.REPOSITORIES,)),
        ("What do Maxime's articles say about GNNs?", ()),  # no cue preposition: no filter
        ("Across the articles, what is GPTQ?", (DataCategory.ARTICLES,)),
        ("How can I reduce my PyTorch code latency?", ()),
        ("Which posts are about RAG", ()),
    ],
)
def test_category_cues(question, expected):
    assert categories_in(question) == expected


def test_resolve_is_tolerant_and_rejects_unknown_names():
    directory = AuthorDirectory([MAXIME, PAUL])
    assert directory.resolve("maxime") == [MAXIME]
    assert directory.resolve("  IUSZTIN ") == [PAUL]
    with pytest.raises(InvalidInput, match=r"unknown author 'Bob'.*Maxime Labonne, Paul Iusztin"):
        directory.resolve("Bob")


def test_names_with_digits_are_not_typos_of_each_other():
    """ "Author3" is one letter from "Author4" but names another author: fuzzy matching is for
    misspelt words, not identifiers."""
    third, fourth = Author("id-3", "Author3 Smith"), Author("id-4", "Author4 Smith")
    directory = AuthorDirectory([third, fourth])
    assert directory.resolve("Author3 Smith") == [third]
    assert directory.resolve("author4") == [fourth]
    assert directory.resolve("Smith") == [third, fourth]


class _FakeChat(BaseHTTPRequestHandler):
    """An OpenAI-compatible /chat/completions endpoint answering a canned text."""

    answer = ""
    requests: ClassVar[list] = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(body)
        reply = {
            "id": "x",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": type(self).answer},
                }
            ],
        }
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_llm():
    _FakeChat.requests = []
    server = HTTPServer(("127.0.0.1", 0), _FakeChat)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield openai_backend(
        f"http://127.0.0.1:{server.server_port}/v1", "tiny", "secret-key", timeout=5
    )
    server.shutdown()
    server.server_close()


def test_llm_self_query_is_resolved_against_known_users(fake_llm):
    _FakeChat.answer = 'Sure: {"author": "labonne", "category": "post"}'
    extractor = LLMSelfQuery(fake_llm, AuthorDirectory([MAXIME, PAUL]))
    filters = extractor.extract("What did the quantization guy write on LinkedIn?")
    assert filters.authors == (MAXIME,)
    assert filters.categories == (DataCategory.POSTS,)
    assert _FakeChat.requests[0]["model"] == "tiny"


def test_llm_self_query_ignores_unknown_authors_and_falls_back_on_bad_answers(fake_llm):
    directory = AuthorDirectory([MAXIME, PAUL])
    _FakeChat.answer = '{"author": "Geoffrey Hinton", "category": null}'
    assert LLMSelfQuery(fake_llm, directory).extract("Hinton on capsules?").authors == ()
    _FakeChat.answer = "I cannot help with that."
    filters = LLMSelfQuery(fake_llm, directory).extract("What did Paul write about CDC?")
    assert filters.authors == (PAUL,)  # the rule-based answer


def test_llm_query_expansion_parses_lines(fake_llm):
    from llm_twin.application.rag.expansion import LLMQueryExpander

    _FakeChat.answer = "1. How is GPTQ applied?\n- GPTQ 4-bit method\nHow is GPTQ applied?\n"
    variants = LLMQueryExpander(fake_llm).expand("What is GPTQ?", 3)
    assert variants == ["How is GPTQ applied?", "GPTQ 4-bit method"]
    assert LLMQueryExpander(fake_llm).expand("What is GPTQ?", 0) == []


def test_unreachable_llm_error_does_not_leak_the_key():
    from llm_twin.infrastructure.llm import GenerationParams, LLMError
    from llm_twin.infrastructure.llm.structured import chat

    llm = openai_backend("http://127.0.0.1:9/v1", "tiny", "secret-key", timeout=1)
    with pytest.raises(LLMError) as error:
        llm.complete(chat("system", "user"), GenerationParams())
    assert "secret-key" not in str(error.value)
