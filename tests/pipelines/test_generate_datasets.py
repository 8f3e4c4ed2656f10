"""End-to-end ZenML runs of both dataset pipelines on a few cleaned documents indexed through
the public VectorStore API: instruct with the no-LLM structure generator (real MiniLM for its
key-phrase fallback), preference with rejected answers from a fake OpenAI-compatible server on
127.0.0.1 and a user correction."""

import json
import uuid

import pytest
import yaml

pytestmark = pytest.mark.slow


@pytest.fixture
def indexed_documents(settings_env, sample_warehouse_dir):
    """Six short sample articles (two authors) indexed as cleaned documents, two as posts."""
    from llm_twin.application.preprocessing.cleaning import clean_text
    from llm_twin.domain.features import CLEANED_DOCUMENTS_COLLECTION, CleanedDocument
    from llm_twin.domain.vectors import VectorPoint
    from llm_twin.infrastructure.db.vector_store import open_vector_store
    from llm_twin.settings import get_settings

    records = json.loads((sample_warehouse_dir / "ArticleDocument.json").read_text())
    records = sorted(records, key=lambda r: len(r["content"]["Content"]))[:6]
    documents = [
        CleanedDocument(
            id=uuid.UUID(record["_id"]),
            document_id=uuid.UUID(record["_id"]),
            category="articles" if number < 4 else "posts",
            author_id=uuid.UUID(record["author_id"]),
            author_full_name=record["author_full_name"],
            platform=record["platform"],
            link=record["link"],
            title=record["content"]["Title"],
            content=clean_text(record["content"]["Content"], record["platform"]),
            source_hash=f"hash{number}",
        )
        for number, record in enumerate(records)
    ]
    with open_vector_store(get_settings()) as store:
        store.ensure_collection(CLEANED_DOCUMENTS_COLLECTION, 4)
        store.upsert(
            CLEANED_DOCUMENTS_COLLECTION,
            [
                VectorPoint(
                    id=d.document_id,
                    vector=[1.0, 0.0, 0.0, float(i)],
                    payload=d.model_dump(mode="json"),
                )
                for i, d in enumerate(documents)
            ],
        )
    return documents


FILTERS = {"min_answer_chars": 200, "near_dup_threshold": 0.8, "decontamination_ngram": 13}


def test_instruct_and_preference_pipelines(
    indexed_documents, settings_env, zenml_store, tmp_path, generic_llm, monkeypatch
):
    import torch
    from typer.testing import CliRunner

    from llm_twin.application.dataset import store
    from llm_twin.application.dataset.structure import TEMPLATES
    from llm_twin.domain.prompts import format_user_message
    from tools.datasets import app as datasets_cli
    from tools.run import run_pipeline

    torch.set_num_threads(1)
    data_dir = settings_env
    config = tmp_path / "instruct.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "parameters": {
                    "extracts": {
                        "min_chars": 300,
                        "max_chars": 900,
                        "max_per_document": 2,
                        "sections": True,
                    },
                    "generator": "structure",
                    "generator_options": {
                        "grounded_share": 1.0,
                        "context_chars": 2500,
                        "keyphrase_options": {"top_n": 2, "candidates": 10},
                    },
                    "filters": FILTERS,
                    "test_size": 0.34,
                    "seed": 1,
                }
            }
        )
    )
    summary = run_pipeline("generate_instruct_datasets", config, no_cache=False)
    assert summary["status"] == "completed"
    counts = summary["counts"]
    assert counts["documents_read"] == 6 and counts["extracts_total"] == 12
    assert (
        counts["train_samples"]
        + counts["test_samples"]
        + sum(v for k, v in counts.items() if k.startswith("dropped_"))
        == counts["extracts_total"]
    )
    assert counts["train_samples"] > 0 and counts["test_samples"] > 0
    for name in ("length", "language", "boilerplate", "exact_dup", "near_dup", "contaminated"):
        assert f"dropped_{name}" in counts
    dataset = store.load(data_dir, "instruct")
    contents = {str(d.document_id): d.content for d in indexed_documents}
    train_docs = set(dataset["train"]["document_id"])
    assert not train_docs & set(dataset["test"]["document_id"])
    templates = {}
    for split in ("train", "test"):
        for row in dataset[split]:
            assert row["answer"] in contents[row["document_id"]]  # the author's own text
            assert row["generator"] == "structure-v2"
            templates[row["template"]] = templates.get(row["template"], 0) + 1
            if row["template"] == "grounded_qa":
                assert row["instruction"] == format_user_message(row["question"], row["context"])
                assert row["answer"] in row["context"]
    assert set(templates) <= set(TEMPLATES) and len(templates) >= 2
    assert sum(templates.values()) == (counts["train_samples"] + counts["test_samples"])
    card = (store.resolve(data_dir, "instruct") / "README.md").read_text()
    assert "structure-v2" in card and "seed=1" in card and "| template | train | test |" in card

    # Same input, same dataset: the re-run saves no new version.
    again = run_pipeline("generate_instruct_datasets", config, no_cache=True)
    assert again["counts"]["datasets_created"] == 0
    assert len(store.versions(data_dir, "instruct")) == 1

    traces = data_dir / "traces"
    traces.mkdir(parents=True)
    (traces / "traces.jsonl").write_text(
        json.dumps({"trace_id": "t1", "query": "What is LoRA?", "answer": "A method."}) + "\n"
    )
    (traces / "feedback.jsonl").write_text(
        json.dumps({"trace_id": "t1", "rating": "down", "correction": "I use LoRA daily."}) + "\n"
    )
    config = tmp_path / "preference.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "parameters": {
                    "extracts": {"min_chars": 300, "max_chars": 900, "max_per_document": 2},
                    "max_extracts": 9,
                    "instruction_generator": "keyphrase",
                    "instruction_generator_options": {"top_n": 2, "candidates": 10},
                    "rejected_generator": "openai",
                    "rejected_generator_options": {"base_url": generic_llm, "model": "fake"},
                    "filters": FILTERS,
                    "test_size": 0.34,
                    "seed": 1,
                }
            }
        )
    )
    summary = run_pipeline("generate_preference_datasets", config, no_cache=False)
    assert summary["status"] == "completed"
    counts = summary["counts"]
    assert counts["extracts_used"] == 9 and counts["feedback_pairs"] == 1
    assert counts["llm_rejected_requests"] == 9
    assert counts["train_samples"] > 1 and counts["test_samples"] > 0
    dataset = store.load(data_dir, "preference")
    origins = dataset["train"]["origin"]
    assert origins.count("feedback") == 1 and "feedback" not in dataset["test"]["origin"]
    for row in dataset["train"]:
        if row["origin"] == "author":
            assert row["chosen"] in contents[row["document_id"]]
            assert row["rejected"].startswith("As an AI language model")

    runner = CliRunner()
    result = runner.invoke(
        datasets_cli, ["export", "--kind", "preference", "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 0, result.output
    paths = json.loads(result.stdout)
    lines = (tmp_path / "out" / paths["train"].split("/")[-1]).read_text().splitlines()
    assert len(lines) == counts["train_samples"]
    assert {"prompt", "chosen", "rejected", "origin"} <= set(json.loads(lines[0]))
    listed = json.loads(runner.invoke(datasets_cli, ["list"]).stdout)
    assert listed["instruct"]["latest"] == store.versions(data_dir, "instruct")[0]
    missing = runner.invoke(datasets_cli, ["export", "--kind", "instruct", "--version", "v0"])
    assert missing.exit_code == 1 and "not found" in missing.output


def test_no_documents_says_what_to_run(settings_env):
    from llm_twin.domain.exceptions import InvalidInput
    from steps.generate_datasets.query_documents import query_cleaned_documents

    with pytest.raises(InvalidInput, match="run the feature engineering pipeline first"):
        query_cleaned_documents.entrypoint(["Nobody"], ["articles"])
