"""`python -m tools.rag`: the JSON shape external evaluations read, batch mode, errors."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli_env(indexed_store_dir, embedded_mongo, authors, tmp_path):
    """Environment for the CLI: the indexed store's DATA_DIR and a warehouse with the users."""
    import uuid

    from llm_twin.domain.documents import UserDocument
    from llm_twin.infrastructure.db.mongo import connect
    from llm_twin.infrastructure.db.warehouse import Warehouse

    database = f"test_{uuid.uuid4().hex[:12]}"
    client = connect(embedded_mongo)
    Warehouse(client[database]).users.upsert_many(
        [
            UserDocument(
                id=a.id, first_name=a.full_name.split()[0], last_name=a.full_name.split()[1]
            )
            for a in authors.values()
        ]
    )
    env = {
        **os.environ,
        "DATA_DIR": str(indexed_store_dir),
        "DATABASE_HOST": embedded_mongo,
        "DATABASE_NAME": database,
        "PYTHONPATH": str(ROOT),
        "LOG_LEVEL": "INFO",
        "RAG_QUERY_THREADS": "1",
    }
    env.pop("QDRANT_URL", None)
    yield env
    client.drop_database(database)
    client.close()


def run_cli(env, *args):
    return subprocess.run(
        [sys.executable, "-m", "tools.rag", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=180,
    )


def check_shape(result: dict, query: str) -> None:
    assert set(result) == {"query", "latency_ms", "results"}
    assert result["query"] == query
    assert isinstance(result["latency_ms"], float) and result["latency_ms"] > 0
    for hit in result["results"]:
        assert set(hit) == {"link", "title", "author", "score", "text"}
        assert isinstance(hit["score"], float) and hit["text"] and hit["link"]


def test_json_output_and_batch_mode(cli_env, tmp_path):
    query = "How does GPTQ quantize weights?"
    single = run_cli(cli_env, "--query", query, "--k", "2", "--json")
    assert single.returncode == 0, single.stderr
    lines = single.stdout.splitlines()
    assert len(lines) == 1  # nothing but the JSON object on stdout
    result = json.loads(lines[0])
    check_shape(result, query)
    assert len(result["results"]) == 2
    assert result["results"][0]["link"] == "https://m.example/gptq"
    assert result["results"][0]["author"] == "Maxime Labonne"

    batch = tmp_path / "questions.jsonl"
    questions = [
        {"question": "How can I stop a chat model from refusing?"},
        {"question": "RAG pipelines", "author": "maxime"},
        {"question": "What did Paul write about reranking?", "author": None},
    ]
    batch.write_text("\n".join(json.dumps(q) for q in questions) + "\n\n")
    run = run_cli(cli_env, "--batch", str(batch))
    assert run.returncode == 0, run.stderr
    results = [json.loads(line) for line in run.stdout.splitlines()]
    assert len(results) == 3
    for question, result in zip(questions, results, strict=True):
        check_shape(result, question["question"])
    assert results[0]["results"][0]["link"] == "https://m.example/abliteration"
    assert {hit["author"] for hit in results[1]["results"]} == {"Maxime Labonne"}
    assert {hit["author"] for hit in results[2]["results"]} == {"Paul Iusztin"}


def test_human_output(cli_env):
    run = run_cli(cli_env, "-q", "graph attention", "--k", "1", "--author", "Labonne")
    assert run.returncode == 0, run.stderr
    assert "1. [" in run.stdout and "https://m.example/gat" in run.stdout


def test_input_errors_are_clear_and_found_before_loading_models(cli_env, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "ok"}\n{"q": "missing"}\n')
    run = run_cli(cli_env, "--batch", str(bad))
    assert run.returncode == 2 and run.stdout == ""
    assert "bad.jsonl:2: expected" in run.stderr
    run = run_cli(cli_env)
    assert run.returncode != 0 and "exactly one of --query or --batch" in run.stderr
