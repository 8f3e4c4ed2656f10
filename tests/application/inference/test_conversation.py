"""Conversations: the standalone query of a follow-up (offline rules and an LLM rewrite with
fallback) and the history's token budget (issue 18 finding 7, issue 20)."""

import pytest

from llm_twin.application.inference.conversation import (
    QueryRewriter,
    estimate_tokens,
    follow_up_kind,
    recent_turns,
    standalone_query,
)
from llm_twin.application.rag.self_query import Author, AuthorDirectory

DIRECTORY = AuthorDirectory([Author("m", "Maxime Labonne"), Author("p", "Paul Iusztin")])


def _turns(*texts: str) -> list[dict[str, str]]:
    """User turns, each followed by an assistant reply."""
    turns = []
    for text in texts:
        turns += [{"role": "user", "content": text}, {"role": "assistant", "content": "Sure."}]
    return turns


def test_a_question_that_stands_alone_is_searched_as_it_is():
    history = _turns("How does GPTQ quantize weights?")
    assert standalone_query("What is abliteration?", history) == "What is abliteration?"
    assert standalone_query("Which weights does it change?", []) == "Which weights does it change?"


def test_a_pronoun_follow_up_resolves_through_a_chain_of_follow_ups():
    # Turn 2 does not name the subject either: turn 3 only makes sense with turn 1.
    history = _turns("What is abliteration?", "Why would someone do that?")
    query = standalone_query("Which weights does it change?", history, DIRECTORY)
    assert query.startswith("Which weights does it change?")
    assert "abliteration" in query


def test_an_ellipsis_keeps_its_new_subject_and_the_earlier_predicate():
    history = _turns("How does GPTQ quantize weights?")
    query = standalone_query("What about AWQ?", history)
    assert "AWQ" in query and "quantize" in query and "GPTQ" not in query


def test_authors_named_earlier_are_carried_unless_the_follow_up_names_its_own():
    history = _turns("What did Maxime Labonne write about quantization?")
    carried = standalone_query("Did he also write about merging models?", history, DIRECTORY)
    assert "Maxime Labonne" in carried
    own = standalone_query("And what did Paul write about it?", history, DIRECTORY)
    assert "Maxime" not in own and "quantization" in own


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Why?", "refers"),
        ("Does it need calibration data?", "refers"),
        ("And what about AWQ?", "continues"),
        ("How does GPTQ quantize weights?", None),
    ],
)
def test_follow_up_kinds(text, kind):
    assert follow_up_kind(text) == kind


def test_recent_turns_keep_the_newest_within_the_token_budget():
    history = [{"role": "user", "content": f"turn {n} " + "x" * 100} for n in range(50)]
    kept = recent_turns(history, 250, estimate_tokens)
    assert sum(estimate_tokens(turn["content"]) for turn in kept) <= 250
    assert kept[-1] is history[-1] and kept == history[-len(kept) :]
    assert recent_turns(history, 0) == []


def test_recent_turns_cut_a_newest_turn_over_the_budget_keeping_its_end():
    history = [{"role": "assistant", "content": "start " + "y" * 4000 + " the end"}]
    [kept] = recent_turns(history, 100, estimate_tokens)
    assert kept["content"].endswith("the end") and estimate_tokens(kept["content"]) <= 100


def test_llm_rewrite_is_used_and_falls_back_to_the_rules(fake_server):
    from llm_twin.infrastructure.llm.factory import openai_backend

    history = _turns("What is abliteration?")
    fake_server.reply = lambda body: '{"query": "abliteration modified weights"}'
    rewriter = QueryRewriter(openai_backend(fake_server.url, "m", retries=0))
    assert rewriter.rewrite("Which weights does it change?", history) == (
        "abliteration modified weights",
        "llm",
    )
    assert "What is abliteration?" in fake_server.requests[0]["messages"][-1]["content"]

    fake_server.reply = lambda body: "I cannot help with that."  # not JSON
    query, method = rewriter.rewrite("Which weights does it change?", history)
    assert method == "rules" and "abliteration" in query

    fake_server.fail_first = 5  # HTTP 500s: the LLM fails
    query, method = rewriter.rewrite("Which weights does it change?", history)
    assert method == "rules" and "abliteration" in query
    assert rewriter.rewrite("What is GPTQ?", []) == ("What is GPTQ?", "none")
