"""The structure generator: every instruction kind answers with the author's exact text."""

import pytest

from llm_twin.application.dataset.card import render_card
from llm_twin.application.dataset.extracts import ExtractConfig, split_document
from llm_twin.application.dataset.generation import build_generator
from llm_twin.application.dataset.instruct import instruct_rows
from llm_twin.application.dataset.structure import StructureGenerator, previous_paragraph
from llm_twin.domain.exceptions import ImproperlyConfigured, InvalidInput
from tests.application.dataset.structured_documents import article, post, repository

CONFIG = ExtractConfig(100, 300, sections=True)


def _rows(documents, **options):
    extracts = [e for d in documents for e in split_document(d, CONFIG)]
    return extracts, instruct_rows(extracts, StructureGenerator(**options))


def _exact(rows, documents):
    contents = {d.document_id: d.content for d in documents}
    for row in rows:
        start = contents[row["document_id"]].index(row["answer"])
        assert row["answer"] == contents[row["document_id"]][start : start + len(row["answer"])]
        assert row["generator"] == "structure-v2" and row["mode"] == "backtranslation"


def test_article_templates_follow_the_outline():
    document = article()
    extracts, rows = _rows([document], grounded_share=0.0)
    assert len(rows) == len(extracts)  # no fallback needed
    _exact(rows, [document])
    by_template = {}
    for row in rows:
        by_template.setdefault(row["template"], []).append(row)
    title = "Fine-tune small models on a laptop and still learn something useful"
    opening = by_template["opening"]
    assert len(opening) == 1 and opening[0]["extract_index"] == 0
    assert opening[0]["instruction"] == (
        f'Write the opening of an article titled "{title}" (A practical guide to LoRA).'
    )
    assert opening[0]["answer"].startswith("Small language models are underrated.")
    sections = {row["instruction"] for row in by_template["section"]}
    assert f'Write the first part of the section "Data" of your article "{title}".' in sections
    assert any('"What is LoRA?"' in s for s in sections)
    for row in by_template["continuation"]:
        prefix = f'Continue the article "{title}" from here:\n\n'
        assert row["instruction"].startswith(prefix)
        quoted = row["instruction"][len(prefix) :]
        before = document.content[: document.content.index(row["answer"])]
        # The quoted paragraph is the text right before the answer.
        assert " ".join(before.split()).endswith(" ".join(quoted.split()))
    assert "grounded_qa" not in by_template


def test_grounded_questions_and_their_share():
    document = article()
    _, rows = _rows([document], grounded_share=1.0)
    grounded = [row for row in rows if row["template"] == "grounded_qa"]
    assert grounded
    _exact(rows, [document])
    questions = {row["question"] for row in grounded}
    assert "What is LoRA?" in questions  # the heading of the answer's section
    for row in grounded:
        assert row["instruction"] == row["question"]  # the assembly adds the context
        assert row["question"].endswith("?")
    # A section start with a question is grounded too (structure-v2); at share 0 it stays a
    # section sample.
    start = next(r for r in grounded if r["answer"].startswith("LoRA is a method"))
    assert start["question"] == "What is LoRA?"
    sections = _rows([document], grounded_share=0.0)[1]
    assert next(r for r in sections if r["answer"] == start["answer"])["template"] == "section"
    # Same seed, same choice; the share decides how many extracts are grounded.
    assert (
        _rows([document], grounded_share=0.5, seed=3)[1]
        == _rows([document], grounded_share=0.5, seed=3)[1]
    )


def test_post_and_code_templates():
    documents = [post(), repository()]
    _extracts, rows = _rows(documents)
    _exact(rows, documents)
    post_rows = [row for row in rows if row["category"] == "posts"]
    assert post_rows[0]["template"] == "post"
    assert (
        post_rows[0]["instruction"]
        == 'Write a LinkedIn post about "Why I train on my own writing".'
    )
    code = [row for row in rows if row["template"] == "code"]
    assert {row["instruction"] for row in code} >= {
        "Write src/train.py for the demo repository (A tiny demo that fine-tunes a model on "
        "your own articles)."
    }
    assert not any(row["answer"].startswith("### File:") for row in rows)


def test_a_long_file_continues_from_its_last_lines():
    document = repository()
    extracts = split_document(document, ExtractConfig(60, 140, sections=True))
    rows = instruct_rows(extracts, StructureGenerator())
    later = [row for row in rows if row["template"] == "continuation"]
    assert later and later[0]["instruction"].startswith("Continue src/train.py:\n\n")
    quoted = later[0]["instruction"].split("\n\n", 1)[1]
    assert document.content[: document.content.index(later[0]["answer"])].rstrip().endswith(quoted)


def test_previous_paragraph_keeps_whole_sentences_within_the_limit():
    text = "First paragraph.\n\n# Heading\n\n" + "A sentence of words. " * 30 + "\n\nNext."
    start = text.index("Next.")
    quoted = previous_paragraph(text, start, limit=100)
    assert len(quoted) <= 100 and quoted.startswith("A sentence") and quoted.endswith("words.")
    assert previous_paragraph("# Only a heading\n\nText.", 18) == ""
    long_sentence = "word " * 200 + "end."
    assert previous_paragraph(
        long_sentence + "\n\nNext.", len(long_sentence) + 2, limit=50
    ).startswith("…")


def test_options_are_checked_and_the_kind_is_built():
    assert build_generator("structure", {"grounded_share": 0.2}).grounded_share == 0.2
    with pytest.raises(InvalidInput, match="grounded_share"):
        StructureGenerator(grounded_share=2)
    with pytest.raises(ImproperlyConfigured, match="invalid option"):
        build_generator("structure", {"top_n": 3})
    assert StructureGenerator(context_chars=900, distractors=1).grounding == {
        "distractors": 1,
        "context_chars": 900,
    }


def test_card_counts_rows_per_template():
    train = [{"template": "opening"}, {"template": "section"}, {"template": "section"}]
    test = [{"template": "grounded_qa"}, {"origin": "feedback"}]
    card = render_card(
        "instruct",
        train,
        test,
        generators=["structure-v2"],
        filter_settings={},
        counts={},
        seed=1,
        test_size=0.1,
    )
    assert "| section | 2 | 0 |" in card and "| grounded_qa | 0 | 1 |" in card
    assert "| feedback | 0 | 1 |" in card


@pytest.mark.slow
def test_fallbacks_use_key_phrases():
    """No title: the first extract falls back to the key-phrase writer; an untitled post gets
    its topic from its key phrases (real MiniLM, a handful of texts)."""
    import torch

    torch.set_num_threads(1)
    untitled = article(content="Small models learn fast. " * 10 + "They overfit too.", title="")
    documents = [untitled, post(title="")]
    _, rows = _rows(documents, keyphrase_options={"top_n": 2, "candidates": 8})
    _exact(rows, documents)
    templates = {row["category"]: row["template"] for row in rows if row["extract_index"] == 0}
    assert templates == {"articles": "keyphrase", "posts": "post"}
    post_row = next(row for row in rows if row["category"] == "posts")
    assert post_row["instruction"].startswith("Write a LinkedIn post about ")
    assert post_row["instruction"].endswith(".") and '"' not in post_row["instruction"]
