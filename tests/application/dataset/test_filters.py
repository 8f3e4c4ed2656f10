"""Quality filters, exact and near dedup, decontamination, split by document."""

from llm_twin.application.dataset.assembly import assemble
from llm_twin.application.dataset.filters import (
    FilterConfig,
    FilterReport,
    apply_filters,
    decontaminate,
)
from llm_twin.application.dataset.split import split_documents

GERMAN = (
    "Die Feinabstimmung eines Sprachmodells mit wenigen Beispielen ist schwierig, weil das "
    "Modell die Trainingsdaten schnell auswendig lernt. Deshalb halte ich die Lernrate niedrig "
    "und beobachte den Verlust auf den Validierungsdaten sehr genau, bevor ich weitermache."
)


def _row(answer, document="d1", category="articles", instruction="Explain how this works."):
    return {
        "instruction": instruction,
        "answer": answer,
        "document_id": document,
        "category": category,
        "author_full_name": "Jane Doe",
        "link": f"https://example.com/{document}",
        "generator": "test",
    }


def test_each_filter_counts_its_drops(paragraphs):
    english = " ".join(paragraphs)
    near = english.replace("minutes", "hours")  # one word changed: a near duplicate
    boiler = "\n".join(
        ["Subscribe to my newsletter for more!", "Share this post", "Follow me on X", english]
    )
    rows = [
        _row(english, "d1"),
        _row("Too short.", "d2"),
        _row(english, "d3", instruction="Hi"),  # instruction too short
        _row(GERMAN, "d4"),
        _row(boiler, "d5"),
        _row(english + " {}[]();=<>" * 60, "d6"),  # a symbol dump
        _row(english.upper(), "d7"),  # same words: exact duplicate after normalising
        _row(near, "d8"),
    ]
    kept, report = apply_filters(rows, FilterConfig(min_answer_chars=50))
    assert [r["document_id"] for r in kept] == ["d1"]
    assert report.counts() == {
        "dropped_length": 2,
        "dropped_language": 1,
        "dropped_boilerplate": 2,
        "dropped_exact_dup": 1,
        "dropped_near_dup": 1,
    }
    # Turning filters off keeps what they dropped.
    loose = FilterConfig(min_answer_chars=1, min_instruction_chars=1, languages=())
    kept, report = apply_filters(rows[:4], loose)
    assert [r["document_id"] for r in kept] == ["d1", "d2", "d4"]  # d3 repeats d1's answer
    assert report.counts()["dropped_language"] == report.counts()["dropped_length"] == 0


def test_decontamination_drops_train_rows_overlapping_test(paragraphs):
    test = [_row(paragraphs[0], "t1")]
    shared = "An unrelated opening sentence about cooking pasta at home. " + paragraphs[0][:200]
    train = [
        _row(shared, "a"),  # contains a long verbatim run of the test answer
        _row(paragraphs[1], "b"),
        _row(paragraphs[2], "c", instruction=paragraphs[0][:120]),  # test text in the prompt
    ]
    report = FilterReport()
    kept = decontaminate(train, test, FilterConfig(), report)
    assert [r["document_id"] for r in kept] == ["b"]
    assert report.counts() == {"dropped_contaminated": 2}
    assert (
        decontaminate(train, test, FilterConfig(decontamination_ngram=0), FilterReport()) == train
    )


def test_split_is_by_document_stratified_and_repeatable():
    rows = [
        _row(f"{category} {doc} {i}", f"{category}-{doc}", category)
        for category, documents in (("articles", 10), ("posts", 4))
        for doc in range(documents)
        for i in range(3)
    ]
    rows.append({**_row("a correction", ""), "origin": "feedback"})
    train, test = split_documents(rows, test_size=0.25, seed=7)
    assert len(train) + len(test) == len(rows)
    train_docs = {r["document_id"] for r in train}
    test_docs = {r["document_id"] for r in test}
    assert not train_docs & test_docs
    assert {d for d in test_docs if d.startswith("articles")} == {
        d for d in test_docs if d.startswith("articles")
    }
    assert sum(d.startswith("articles") for d in test_docs) == 2  # round(0.25 * 10)
    assert sum(d.startswith("posts") for d in test_docs) == 1
    assert "" in train_docs  # rows without a document stay in train
    assert split_documents(rows, 0.25, 7) == (train, test)
    assert split_documents(rows, 0.25, 8) != (train, test)


def test_assemble_filters_splits_and_decontaminates(paragraphs):
    rows = [_row(p + f" Document {d}.", f"doc{d}") for d in range(6) for p in paragraphs]
    train, test, report = assemble(rows, FilterConfig(min_answer_chars=50), 0.34, seed=1)
    # Every document repeats the same paragraphs: near-dup keeps the first copy of each.
    assert report.dropped["near_dup"] == len(rows) - 3
    assert len(train) + len(test) + report.dropped["contaminated"] == 3
    assert not {r["answer"] for r in train} & {r["answer"] for r in test}
