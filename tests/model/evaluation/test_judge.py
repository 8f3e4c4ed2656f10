"""The judge against a fake OpenAI-compatible server: rubric parsing, malformed JSON re-asked
then counted (never scored), pairwise verdicts in both orders, transport retries, settings."""

import json

import pytest

from llm_twin.domain.exceptions import ImproperlyConfigured
from llm_twin.model.evaluation.judge import (
    Judge,
    JudgeEndpoint,
    MalformedVerdict,
    parse_preference,
    parse_rubric,
    resolve_judge,
)
from llm_twin.settings import Settings


def rubric(accuracy: int, style: int) -> str:
    return json.dumps(
        {
            "accuracy": {"analysis": "Mostly right.", "score": accuracy},
            "style": {"analysis": "Sounds like them.", "score": style},
        }
    )


def judge_for(fake, retries: int = 2) -> Judge:
    return Judge(JudgeEndpoint(fake.url, "judge-model", "sk-secret"), retries=retries, timeout=10)


def test_parsers_accept_fenced_json_and_reject_bad_scores() -> None:
    assert parse_rubric("```json\n" + rubric(3, 2) + "\n```")[:2] == (3, 2)
    assert parse_preference('Sure! {"reason": "x", "better": "tie"}') == "tie"
    for bad in ("not json", rubric(4, 2), '{"accuracy": {"score": 2}}', "{broken"):
        with pytest.raises(MalformedVerdict):
            parse_rubric(bad)
    with pytest.raises(MalformedVerdict):
        parse_preference('{"better": "C"}')


def test_malformed_replies_are_asked_again_then_counted_as_failures(fake_judge) -> None:
    replies = {
        "first": iter(["{not json", rubric(3, 2)]),  # malformed once, then valid
        "second": iter(["nope"] * 10),  # never valid
        "third": iter([rubric(2, 3)]),
    }
    fake_judge.reply = lambda prompt: next(
        replies[next(k for k in replies if f"question {k}" in prompt)]
    )
    judge = judge_for(fake_judge, retries=2)
    scores = judge.rubric(
        ["question first", "question second", "question third"],
        ["ref"] * 3,
        ["answer one", "answer two", ""],
    )
    assert scores.accuracy == [3, 2] and scores.style == [2, 3]
    assert scores.failures == 1 and scores.verdicts[1] is None
    assert scores.verdicts[0]["style_analysis"] == "Sounds like them."
    summary = scores.summary()
    assert summary["judge_accuracy"] == 2.5 and summary["judge_failures"] == 1
    assert summary["judge_accuracy_ci95"] > 0
    assert len(fake_judge.prompts) == 2 + 3 + 1  # the bad row asked 1 + retries times
    assert "(empty)" in fake_judge.prompts[-1]
    assert "score" in fake_judge.prompts[0] and "reference answer" in fake_judge.prompts[0]


def test_pairwise_counts_a_win_only_when_both_orders_agree(fake_judge) -> None:
    def reply(prompt: str) -> str:
        a = prompt.split("Answer A:\n")[1].split("\n")[0]
        if "consistent" in prompt:  # always prefers the twin's answer
            better = "A" if a.startswith("twin") else "B"
        elif "biased" in prompt:  # always prefers position A: inconsistent
            better = "A"
        else:
            return "garbage"
        return json.dumps({"reason": "because", "better": better})

    fake_judge.reply = reply
    judge = judge_for(fake_judge, retries=0)
    result = judge.pairwise(
        ["consistent q", "biased q", "broken q"],
        ["ref"] * 3,
        ["twin answer 1", "twin answer 2", "twin answer 3"],
        ["base answer 1", "base answer 2", "base answer 3"],
    )
    assert result == {
        "pairwise_failures": 1,
        "win_rate": 0.5,
        "loss_rate": 0.0,
        "tie_rate": 0.5,
    }
    assert all("Ignore the answers' length" in prompt for prompt in fake_judge.prompts)


def test_transport_errors_are_retried_then_raised(fake_judge) -> None:
    from llm_twin.infrastructure.llm import LLMUnavailable

    fake_judge.reply = lambda prompt: rubric(2, 2)
    fake_judge.fail_first = 1
    judge = judge_for(fake_judge)
    assert judge.rubric(["q"], ["r"], ["a"]).accuracy == [2]
    fake_judge.fail_first = 10
    with pytest.raises(LLMUnavailable, match="HTTP 500"):
        judge.rubric(["q"], ["r"], ["a"])


def test_judge_settings_fall_back_to_openai_and_modes() -> None:
    offline = Settings(_env_file=None)
    assert resolve_judge("auto", offline) is None
    with pytest.raises(ImproperlyConfigured, match="JUDGE_BASE_URL"):
        resolve_judge("always", offline)
    fallback = Settings(
        _env_file=None, OPENAI_BASE_URL="http://127.0.0.1:9/v1", OPENAI_MODEL_ID="m1"
    )
    endpoint = resolve_judge("auto", fallback)
    assert endpoint is not None and endpoint.model == "m1" and endpoint.api_key == ""
    own = Settings(
        _env_file=None,
        OPENAI_BASE_URL="http://127.0.0.1:9/v1",
        JUDGE_BASE_URL="http://127.0.0.1:10/v1",
        JUDGE_MODEL_ID="judge",
        JUDGE_API_KEY="sk-judge",
    )
    endpoint = resolve_judge("always", own)
    assert (endpoint.base_url, endpoint.model, endpoint.api_key) == (
        "http://127.0.0.1:10/v1",
        "judge",
        "sk-judge",
    )
    assert "sk-judge" not in repr(endpoint)
    assert resolve_judge("never", own) is None
    # The OpenAI key is never sent to the judge's own server.
    mixed = Settings(
        _env_file=None, JUDGE_BASE_URL="http://127.0.0.1:10/v1", OPENAI_API_KEY="sk-openai"
    )
    assert resolve_judge("auto", mixed).api_key == ""
