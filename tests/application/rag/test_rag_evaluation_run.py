"""RAG evaluation end to end over the small indexed corpus, with the twin's LLM and the judge
played by a fake OpenAI-compatible server on 127.0.0.1; judge reply parsing and re-asks."""

import json

import pytest
from rag_corpus import ABLITERATION, GRAPHS

from llm_twin.application.rag.evaluation.config import parse_config
from llm_twin.application.rag.evaluation.generation import (
    FAITHFULNESS_SYSTEM,
    JudgeEndpoint,
    JudgeScorer,
    Passage,
    build_scorer,
)
from llm_twin.domain.exceptions import ImproperlyConfigured, InvalidInput

ABLITERATION_LINK = "https://m.example/abliteration"
GAT_LINK = "https://m.example/gat"


def _is_faithfulness(body: dict) -> bool:
    return body["messages"][0]["content"] == FAITHFULNESS_SYSTEM


def _is_relevance(body: dict) -> bool:
    return "questions that this answer would answer" in body["messages"][0]["content"]


VERDICTS = json.dumps(
    {
        "statements": [
            {
                "statement": "Abliteration removes the refusal direction.",
                "supported": True,
                "sources": [1, 7],
            },
            {"statement": "It was invented in 1990.", "supported": False, "sources": []},
        ]
    }
)
WRITTEN = json.dumps(
    {"questions": ["How does abliteration work?", "What is the refusal direction?", "Why?"]}
)


def test_judge_reasks_after_malformed_json_then_gives_up(fake_server, embedder) -> None:
    replies = iter(["Sure! Here are the statements.", "```json\n" + VERDICTS + "\n```"])
    fake_server.reply = lambda body: (
        next(replies) if _is_faithfulness(body) else WRITTEN if _is_relevance(body) else ""
    )
    judge = JudgeScorer(
        JudgeEndpoint(fake_server.url, "judge-model", "sk-secret"), embedder, retries=1
    )
    passages = [Passage(1, ABLITERATION_LINK, ABLITERATION), Passage(2, GAT_LINK, GRAPHS)]
    scored = judge.score("How does abliteration work?", ABLITERATION, passages)
    assert scored.faithfulness == 0.5 and scored.statements == 2 and scored.supported == 1
    assert scored.sources_used == [ABLITERATION_LINK]  # source 7 does not exist: ignored
    assert scored.answer_relevance > 0.3 and scored.failure is None
    assert (judge.requests, judge.malformed, judge.failures) == (3, 1, 0)
    reask = fake_server.requests[1]["messages"]
    assert reask[-2] == {"role": "assistant", "content": "Sure! Here are the statements."}
    assert "not valid" in reask[-1]["content"]
    assert fake_server.requests[0]["response_format"] == {"type": "json_object"}

    # Never valid: counted as a failure after 1 + retries asks, no score invented.
    fake_server.reply = lambda body: '{"statements": []}' if _is_faithfulness(body) else WRITTEN
    scored = judge.score("How does abliteration work?", ABLITERATION, passages)
    assert scored.faithfulness is None and scored.sources_used == []
    assert "faithfulness" in scored.failure and scored.answer_relevance is not None
    assert (judge.requests, judge.malformed, judge.failures) == (6, 3, 1)
    judge.close()


def test_judge_on_without_a_judge_is_a_configuration_error(embedder) -> None:
    from llm_twin.settings import Settings

    settings = Settings(_env_file=None, OPENAI_BASE_URL=None, JUDGE_BASE_URL=None)
    with pytest.raises(ImproperlyConfigured, match="JUDGE_BASE_URL"):
        build_scorer(settings, parse_config({"judge": "on"}), embedder)
    assert build_scorer(settings, parse_config({}), embedder).mode == "offline"
    judged = Settings(_env_file=None, JUDGE_BASE_URL="http://127.0.0.1:9/v1")
    assert build_scorer(judged, parse_config({}), embedder).mode == "judge"
    assert build_scorer(judged, parse_config({"judge": "off"}), embedder).mode == "offline"


# -- end to end ------------------------------------------------------------------------------
@pytest.fixture
def eval_env(settings_env, indexed_store_dir, fake_server, monkeypatch, tmp_path):
    """Settings over the indexed corpus, the fake server as the twin's LLM (and the fallback
    judge), an instruct dataset with a test split and a user questions file."""
    from datasets import Dataset, DatasetDict

    from llm_twin.application.dataset import store
    from llm_twin.settings import get_settings

    monkeypatch.setenv("QDRANT_PATH", str(indexed_store_dir / "qdrant_edge"))
    monkeypatch.setenv("VECTOR_STORE_BACKEND", "edge")
    monkeypatch.setenv("LLM_BACKENDS", "openai")
    monkeypatch.setenv("OPENAI_BASE_URL", fake_server.url)
    monkeypatch.setenv("OPENAI_MODEL_ID", "fake-twin")
    for name in ("JUDGE_BASE_URL", "JUDGE_MODEL_ID", "JUDGE_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()

    def row(instruction: str, link: str, title: str) -> dict:
        return {
            "instruction": instruction,
            "answer": "The author's text.",
            "document_id": link,
            "category": "articles",
            "author_full_name": "Maxime Labonne",
            "link": link,
            "title": title,
            "extract_index": 0,
            "generator": "keyphrase",
        }

    test_rows = [
        row(
            'Explain the refusal direction, as you would in a blog article about "Uncensor any '
            'LLM with abliteration".',
            ABLITERATION_LINK,
            "Uncensor any LLM with abliteration",
        ),
        row(
            'Write a paragraph for a technical article titled "4-bit Quantization with GPTQ" '
            "that covers rounding error and second-order information.",
            "https://m.example/gptq",
            "4-bit Quantization with GPTQ",
        ),
    ]
    train_rows = [row("Write about attention.", GAT_LINK, "Graph Attention Networks")]
    dataset = DatasetDict(
        {"train": Dataset.from_list(train_rows), "test": Dataset.from_list(test_rows)}
    )
    store.save(settings_env, "instruct", dataset, "card")
    questions = tmp_path / "questions.jsonl"
    questions.write_text(
        json.dumps(
            {
                "question": "What does a graph attention network learn between neighbours?",
                "links": [GAT_LINK],
            }
        )
        + "\n"
        + json.dumps(
            {
                "question": "How does a Bytewax streaming pipeline feed the vector database?",
                "links": ["https://p.example/streaming", "https://medium.example/streaming"],
            }
        )
        + "\n"
    )
    return {"settings": get_settings(), "questions": str(questions)}


def _twin_answers_with_abliteration(fake_server) -> None:
    """The twin always answers with the abliteration paragraph; the judge replies valid JSON."""

    def reply(body: dict) -> str:
        if _is_faithfulness(body):
            return VERDICTS
        if _is_relevance(body):
            return WRITTEN
        return ABLITERATION

    fake_server.reply = reply


def test_evaluate_rag_offline_end_to_end(eval_env, fake_server) -> None:
    from llm_twin.application.rag.evaluation.run import evaluate_rag

    _twin_answers_with_abliteration(fake_server)
    config = {
        "questions_file": eval_env["questions"],
        "judge": "off",
        "n_generation": 4,
        "k": 2,
        "max_tokens": 40,
    }
    result = evaluate_rag(eval_env["settings"], config)
    retrieval = result["retrieval"]
    assert retrieval["questions"] == 4 and result["k"] == 2
    assert retrieval["sources"]["generated"]["questions"] == 2
    assert retrieval["sources"]["user"]["questions"] == 2
    assert retrieval["sources"]["generated"]["dataset_version"]
    assert retrieval["recall@1"] == 1.0 and retrieval["mrr"] == 1.0 and retrieval["misses"] == []

    generation = result["generation"]
    assert generation["mode"] == "offline" and generation["questions"] == 4
    assert generation["model"] == "fake-twin"
    examples = {e["question"]: e for e in result["examples"]}
    refusal = next(e for q, e in examples.items() if q.startswith("Explain the refusal"))
    assert "abliteration" not in refusal["question"].lower()  # the title was hidden
    assert refusal["answer"] == ABLITERATION and refusal["hit_rank"] == 1
    assert refusal["faithfulness"] == 1.0 and refusal["sources_used"] == [ABLITERATION_LINK]
    graphs = next(e for q, e in examples.items() if "graph attention" in q)
    assert graphs["faithfulness"] < refusal["faithfulness"]
    assert graphs["answer_relevance"] < refusal["answer_relevance"]
    assert generation["faithfulness"] == round(
        sum(e["faithfulness"] for e in result["examples"]) / 4, 3
    )
    # Answers came through the API's prompt (numbered context passages; the links travel in
    # the response's sources, not the prompt) with the config's generation parameters.
    answering = [body for body in fake_server.requests if body.get("stream")]
    assert len(answering) == 4
    assert all(b["max_tokens"] == 40 and b["temperature"] == 0.0 for b in answering)
    user_turn = answering[0]["messages"][-1]["content"]
    assert user_turn.startswith("Context:\n[1] ") and ABLITERATION[:60] in user_turn
    assert ABLITERATION_LINK not in user_turn
    # The embedded store was closed: it can be opened again at once.
    from llm_twin.infrastructure.db.vector_store import open_vector_store

    open_vector_store(eval_env["settings"]).close()


def test_evaluate_rag_with_the_fallback_judge(eval_env, fake_server) -> None:
    from llm_twin.application.rag.evaluation.run import evaluate_rag

    _twin_answers_with_abliteration(fake_server)
    result = evaluate_rag(
        eval_env["settings"],
        {"generated": False, "questions_file": eval_env["questions"], "n_generation": 1, "k": 3},
    )
    generation = result["generation"]
    assert generation["mode"] == "judge" and generation["judge_model"] == "fake-twin"
    assert generation["faithfulness"] == 0.5 and generation["judge_failures"] == 0
    assert generation["judge_requests"] == 2 and generation["scored"] == 1
    assert set(result["retrieval"]["sources"]) == {"user"}
    example = result["examples"][0]
    assert example["statements"] == 2 and len(example["sources_used"]) == 1


def test_missing_dataset_or_questions_fail_clearly(settings_env) -> None:
    from llm_twin.application.rag.evaluation.run import evaluate_rag
    from llm_twin.settings import get_settings

    with pytest.raises(InvalidInput, match="generate-instruct-datasets pipeline"):
        evaluate_rag(get_settings(), {})
    with pytest.raises(InvalidInput, match="has no questions"):
        evaluate_rag(get_settings(), {"generated": False})
    with pytest.raises(InvalidInput, match="invalid RAG evaluation config: k: "):
        evaluate_rag(get_settings(), {"k": 0})


def test_step_records_metrics_and_counts(eval_env, fake_server, zenml_store) -> None:
    from zenml import pipeline
    from zenml.client import Client

    from steps.evaluating.evaluate_rag import evaluate_rag

    _twin_answers_with_abliteration(fake_server)

    @pipeline(enable_cache=False)
    def rag_evaluation_check(config: dict) -> None:
        evaluate_rag(config)

    run = rag_evaluation_check.with_options(
        parameters={"config": {"questions_file": eval_env["questions"], "n_generation": 0}}
    )()
    step = Client().get_pipeline_run(run.id).steps["evaluate_rag"]
    metadata = step.run_metadata
    assert metadata["counts"] == {
        "rag_eval_questions": 4,
        "rag_eval_misses": 0,
        "rag_eval_answers": 0,
        "rag_eval_judge_failures": 0,
    }
    metrics = metadata["rag_metrics"]
    assert metrics["retrieval"]["mrr"] == 1.0 and metrics["retrieval"]["user_recall@1"] == 1.0
    assert metrics["generation"] == {"questions": 0, "scored": 0, "mode": "off"}
    result = step.outputs["rag_metrics"][0].load()
    assert result["retrieval"]["questions"] == 4 and result["examples"] == []
