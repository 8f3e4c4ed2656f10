"""Preference triples: chosen is the author's text, chosen ≈ rejected is dropped, judge mode,
and user corrections from the service's feedback files."""

import json

import pytest

from llm_twin.application.dataset.assembly import assemble
from llm_twin.application.dataset.extracts import ExtractConfig, split_document
from llm_twin.application.dataset.feedback import correction_rows
from llm_twin.application.dataset.filters import FilterConfig, FilterReport
from llm_twin.application.dataset.openai_compatible import OpenAICompatibleGenerator
from llm_twin.application.dataset.preference import preference_rows
from llm_twin.domain.exceptions import InvalidInput


def _instruction_then_answer(extracts):
    """Replies of the fake server: JSON instructions for batches, then plain answers that
    copy the first extract (no contrast) or are generic."""

    def reply(body):
        content = body["messages"][-1]["content"]
        if body.get("response_format"):
            if "Answer A" in content:
                return json.dumps({"better": "A" if "topic 1" in content else "B"})
            return json.dumps(
                {
                    "items": [
                        {"id": i, "instruction": f"Write about topic {i}."}
                        for i in range(1, len(extracts) + 1)
                    ]
                }
            )
        if content == "Write about topic 1.":
            return extracts[0].text  # the model parroted the author's text
        return "Large language models are useful tools. They can help with many tasks."

    return reply


def test_preference_rows_keep_the_author_as_chosen(fake_server, make_document):
    extracts = split_document(make_document(1), ExtractConfig(100, 400))
    fake_server.reply = _instruction_then_answer(extracts)
    llm = OpenAICompatibleGenerator(fake_server.url, "fake", batch_size=10, concurrency=1)
    report = FilterReport()
    rows = preference_rows(extracts, llm, llm, report)
    assert report.counts() == {"dropped_generation_failed": 0, "dropped_chosen_equals_rejected": 1}
    assert len(rows) == len(extracts) - 1
    for row, extract in zip(rows, extracts[1:], strict=True):
        assert row["chosen"] == extract.text
        assert row["rejected"].startswith("Large language models")
        assert row["origin"] == "author" and row["judge_swapped"] is False
        assert row["generator"] == f"{llm.name}+{llm.name}"

    judged = preference_rows(
        extracts, llm, llm, FilterReport(), ranking="judge", judge=llm, max_similarity=1.0
    )
    swapped = [row["judge_swapped"] for row in judged]
    assert swapped == [False] + [True] * (len(extracts) - 1)
    assert judged[1]["chosen"].startswith("Large language models")
    with pytest.raises(InvalidInput, match="needs a judge"):
        preference_rows(extracts, llm, llm, FilterReport(), ranking="judge")


def test_corrections_become_feedback_pairs_in_train(tmp_path, paragraphs):
    traces = [
        {"trace_id": "t1", "query": "What is LoRA?", "answer": "LoRA is a method.", "model": "m"},
        {"trace_id": "t2", "query": "What is DPO?", "answer": "DPO is a method."},
    ]
    feedback = [
        {"trace_id": "t1", "rating": "down", "correction": paragraphs[1]},
        {"trace_id": "t2", "rating": "up", "correction": None},
        {"trace_id": "missing", "rating": "down", "correction": "orphan"},
    ]
    (tmp_path / "traces.jsonl").write_text("\n".join(json.dumps(t) for t in traces) + "\n")
    (tmp_path / "feedback.jsonl").write_text(
        "\n".join(json.dumps(f) for f in feedback) + "\nnot json\n"
    )
    rows = correction_rows(tmp_path)
    assert len(rows) == 1
    assert rows[0]["prompt"] == "What is LoRA?" and rows[0]["chosen"] == paragraphs[1]
    assert rows[0]["rejected"] == "LoRA is a method." and rows[0]["origin"] == "feedback"
    assert correction_rows(tmp_path / "nothing-here") == []

    authored = [
        {
            "prompt": f"Write about {p[:20]}",
            "chosen": p,
            "rejected": "generic",
            "origin": "author",
            "document_id": f"d{i}",
            "category": "articles",
        }
        for i, p in enumerate(paragraphs)
    ]
    train, test, _ = assemble(authored + rows + rows, FilterConfig(), 0.34, seed=3)
    assert sum(r["origin"] == "feedback" for r in train) == 1  # deduplicated, train only
    assert all(r["origin"] == "author" for r in test)
