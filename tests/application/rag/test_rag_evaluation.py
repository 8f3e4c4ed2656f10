"""RAG evaluation building blocks: link metrics on constructed rankings, question loading,
config validation and the offline faithfulness/relevance proxies."""

import json

import pytest

from llm_twin.application.rag.evaluation.config import parse_config
from llm_twin.application.rag.evaluation.generation import OfflineScorer, Passage, sentences
from llm_twin.application.rag.evaluation.questions import (
    hide_title,
    load_questions_file,
    spread_sample,
)
from llm_twin.application.rag.evaluation.retrieval import first_hit, score, unique_links
from llm_twin.domain.exceptions import InvalidInput


def test_recall_and_mrr_on_constructed_rankings() -> None:
    ranked = [
        ["a", "a", "b"],  # hit at unique rank 1 (repeats of a link count once)
        ["x", "x", "y", "b", "z"],  # unique ranks x=1, y=2, b=3
        ["x", "y", "z", "w", "v", "b"],  # b at unique rank 6: beyond every cut
        ["c", "d"],  # no expected link at all
    ]
    expected = [["a"], ["b"], ["b"], ["e", "f"]]
    metrics = score(ranked, expected)
    assert metrics == {
        "recall@1": 0.25,
        "recall@3": 0.5,
        "recall@5": 0.5,
        "mrr": round((1 + 1 / 3 + 1 / 6) / 4, 3),
    }
    assert unique_links(["a", "b", "a", "c"]) == ["a", "b", "c"]
    assert first_hit(["x", "x", "b"], ["b", "q"]) == 2
    assert score([], []) == {"recall@1": 0.0, "recall@3": 0.0, "recall@5": 0.0, "mrr": 0.0}


def test_bench_shares_the_product_metrics() -> None:
    import bench.rag_common as common
    from llm_twin.application.rag.evaluation import retrieval

    assert common.score is retrieval.score and common.unique_links is retrieval.unique_links


def test_questions_file_loads_good_lines(tmp_path) -> None:
    path = tmp_path / "q.jsonl"
    rows = [
        {"question": " What is GPTQ? ", "links": ["https://m.example/gptq"]},
        {"question": "Who streams?", "links": ["https://p.example/a", "https://p.example/b"]},
        {"question": "Maxime on RAG?", "links": ["https://m.example/x"], "author": "Maxime"},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows[:2]) + "\n\n" + json.dumps(rows[2]))
    questions = load_questions_file(path)
    assert [q.question for q in questions] == ["What is GPTQ?", "Who streams?", "Maxime on RAG?"]
    assert questions[1].links == ("https://p.example/a", "https://p.example/b")
    assert questions[2].author == "Maxime" and questions[2].meta == {"line": 4}
    assert {q.source for q in questions} == {"user"}


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{not json", "invalid JSON"),
        ('["a list"]', "expected an object"),
        ('{"question": "  ", "links": ["https://a"]}', "'question' must be"),
        ('{"question": "q?", "links": []}', "'links' must be"),
        ('{"question": "q?", "links": "https://a"}', "'links' must be"),
        ('{"question": "q?", "links": ["https://a"], "author": 3}', "'author' must be"),
    ],
)
def test_questions_file_names_the_bad_line(tmp_path, line: str, problem: str) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"question": "fine?", "links": ["https://a"]}\n' + line + "\n")
    with pytest.raises(InvalidInput, match=rf"q\.jsonl:2: .*{problem}"):
        load_questions_file(path)


def test_questions_file_missing_or_empty(tmp_path) -> None:
    with pytest.raises(InvalidInput, match="cannot read questions file"):
        load_questions_file(tmp_path / "absent.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(InvalidInput, match="holds no questions"):
        load_questions_file(tmp_path / "empty.jsonl")


def test_hide_title_and_spread_sample() -> None:
    text = 'Explain GPTQ, as you would in a blog article about "4-bit Quantization with GPTQ".'
    assert hide_title(text, "4-bit quantization with GPTQ") == (
        "Explain GPTQ, as you would in a blog article about this topic."
    )
    assert hide_title(text, None) == text
    rows = [{"link": "long", "i": i} for i in range(10)] + [{"link": "short", "i": 10}]
    picked = spread_sample(rows, 4, seed=1)
    assert len(picked) == 4 and {"long", "short"} <= {r["link"] for r in picked}
    assert picked == sorted(picked, key=lambda r: r["i"])  # input order kept
    assert picked == spread_sample(rows, 4, seed=1)  # seeded
    assert spread_sample(rows, 0, seed=1) == rows


def test_config_rejects_bad_fields_by_name() -> None:
    assert parse_config(None).n_generation == 3
    assert parse_config({"questions_file": "  "}).questions_file is None
    with pytest.raises(InvalidInput, match=r"n_generation: .*greater than or equal to 0"):
        parse_config({"n_generation": -1})
    with pytest.raises(InvalidInput, match="judge: "):
        parse_config({"judge": "maybe"})
    with pytest.raises(InvalidInput, match="unknown_field: Extra inputs are not permitted"):
        parse_config({"unknown_field": 1})


CONTEXT = (
    "GPTQ quantizes the weights of a large language model to 4 bits layer by layer. It uses "
    "second-order information to compensate the rounding error of each weight. The quantized "
    "model runs on a single consumer GPU."
)
OTHER = "Graph attention networks weigh the neighbours of a node with learned coefficients."


def test_offline_faithfulness_prefers_answers_copied_from_context(embedder) -> None:
    scorer = OfflineScorer(embedder, threshold=0.6)
    passages = [Passage(1, "https://m.example/gptq", CONTEXT), Passage(2, "https://g", OTHER)]
    question = "How does GPTQ quantize a model?"
    copied = scorer.score(question, CONTEXT, passages)
    unrelated = scorer.score(
        question,
        "My favourite pasta recipe needs fresh basil and garlic. Cook it for ten minutes.",
        passages,
    )
    assert copied.faithfulness == 1.0 and copied.statements == copied.supported == 3
    assert copied.sources_used == ["https://m.example/gptq"]
    assert unrelated.faithfulness == 0.0 and unrelated.sources_used == []
    assert copied.answer_relevance > unrelated.answer_relevance + 0.2
    empty = scorer.score(question, "Ok.", passages)
    assert empty.faithfulness is None and "no statement" in empty.failure


def test_sentences_split_and_filter() -> None:
    assert sentences("One two three. Four!  Five six seven?", min_words=3) == [
        "One two three.",
        "Five six seven?",
    ]


def test_cli_evaluation_config_reads_files_and_overrides(tmp_path) -> None:
    from tools.rag import evaluation_config

    path = tmp_path / "eval.yaml"
    path.write_text("parameters:\n  n_generation: 5\n  judge: off\n")
    config = evaluation_config(path, tmp_path / "q.jsonl", None, 3)
    assert parse_config(config).judge == "off"  # YAML's boolean off is accepted
    assert config == {
        "n_generation": 5,
        "judge": False,
        "questions_file": str(tmp_path / "q.jsonl"),
        "k": 3,
    }
    assert evaluation_config(None, None, 0, None) == {"n_generation": 0}
    path.write_text("- a list\n")
    with pytest.raises(InvalidInput, match="is not a mapping"):
        evaluation_config(path, None, None, None)
