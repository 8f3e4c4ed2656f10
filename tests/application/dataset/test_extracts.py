"""Extracts are exact slices of the author's text, and back-translation keeps them as answers."""

import pytest

from llm_twin.application.dataset.extracts import ExtractConfig, sentence_spans, split_document
from llm_twin.application.dataset.generation import Generated, Generator
from llm_twin.application.dataset.instruct import instruct_rows, sample_extracts
from llm_twin.domain.exceptions import InvalidInput


def test_sentences_and_extract_bounds(make_document):
    text = 'One. "Two!" Three? Four\n\nFive'
    assert [text[s:e] for s, e in sentence_spans(text)] == [
        "One.",
        '"Two!"',
        "Three?",
        "Four",
        "Five",
    ]
    document = make_document(1)
    extracts = split_document(document, ExtractConfig(min_chars=100, max_chars=400))
    assert len(extracts) >= 3
    for extract in extracts:
        assert 100 <= len(extract.text) <= 400
        assert extract.text == extract.text.strip()
        assert extract.text in document.content
        # Extracts end at a sentence end, never mid-sentence.
        assert extract.text[-1] in ".!?"
    limited = split_document(document, ExtractConfig(100, 400, max_per_document=2))
    assert len(limited) == 2
    with pytest.raises(InvalidInput, match="min_chars <= max_chars"):
        ExtractConfig(min_chars=500, max_chars=100)


class _EchoTitle(Generator):
    """Deterministic instruction writer: the answers must not depend on it."""

    kind = "echo"

    @property
    def name(self) -> str:
        return "echo"

    def instructions(self, extracts):
        return [Generated(instruction=f"Write about {e.document.title}.") for e in extracts]


def test_backtranslation_answers_are_the_source_text(make_document):
    documents = [make_document(n) for n in range(3)]
    extracts = [e for d in documents for e in split_document(d, ExtractConfig(100, 400))]
    rows = instruct_rows(extracts, _EchoTitle())
    assert len(rows) == len(extracts)
    for row, extract in zip(rows, extracts, strict=True):
        assert row["answer"] == extract.text
        assert row["answer"] == extract.document.content[extract.start : extract.end]
        assert row["generator"] == "echo" and row["mode"] == "backtranslation"
        assert row["document_id"] == extract.document.document_id
    assert sample_extracts(extracts, 4, seed=1) == sample_extracts(extracts, 4, seed=1)
    assert len(sample_extracts(extracts, 4, seed=1)) == 4
    with pytest.raises(InvalidInput, match="unknown instruct mode"):
        instruct_rows(extracts, _EchoTitle(), mode="paraphrase")
