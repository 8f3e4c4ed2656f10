"""The outline read from a cleaned document, and extracts cut along it."""

from llm_twin.application.dataset.extracts import ExtractConfig, split_document
from llm_twin.application.dataset.outline import clean_heading, parse_outline, reader_title
from tests.application.dataset.structured_documents import ARTICLE, article, repository


def test_outline_of_a_crawled_article():
    outline = parse_outline(article())
    # The wrapped title heading is joined; "# Jane Doe" (the author's name) is not the title.
    assert outline.title == "Fine-tune small models on a laptop and still learn something useful"
    assert outline.subtitle == "A practical guide to LoRA"
    kinds = [(r.kind, r.heading) for r in outline.regions]
    assert kinds == [
        ("opening", ""),
        ("other", "Table of Contents"),
        ("section", "Data"),
        ("section", "What is LoRA?"),
    ]
    opening = outline.regions[0]
    # The author's name, the date and the like count are furniture, not the opening.
    assert ARTICLE[opening.start :].startswith("Small language models are underrated.")
    assert (
        ARTICLE[outline.regions[2].start : outline.regions[2].end]
        .strip()
        .endswith("never leaks into training.")
    )
    assert outline.region_at(ARTICLE.index("MinHash")) == outline.regions[2]
    assert outline.region_at(0) is None  # the navigation before the title heading


def test_headings_and_titles_are_cleaned():
    assert clean_heading("### **1\\. System Design**") == "System Design"
    assert clean_heading("### #2. 7 tips to reduce VRAM") == "7 tips to reduce VRAM"
    assert clean_heading("## 7 tips to reduce VRAM") == "7 tips to reduce VRAM"
    assert clean_heading("#### 4.1. Embed query") == "Embed query"
    assert clean_heading("## 🔧 Supervised Fine-Tuning") == "Supervised Fine-Tuning"
    assert clean_heading("#### [Links](https://x.y) and `code`") == "Links and code"
    assert reader_title("Real-time RAG - by Paul Iusztin", "Paul Iusztin") == "Real-time RAG"
    assert reader_title("Maxime Labonne - Fine-tune Llama 3.1", "Maxime Labonne") == (
        "Fine-tune Llama 3.1"
    )
    # A document without headings is one opening region with its own title.
    plain = article(content="One sentence. " * 50, title="Plain - Jane Doe")
    outline = parse_outline(plain)
    assert outline.title == "Plain" and [r.kind for r in outline.regions] == ["opening"]


def test_repository_outline_is_one_region_per_file():
    outline = parse_outline(repository())
    assert [(r.kind, r.heading) for r in outline.regions] == [
        ("file", "README.md"),
        ("file", "src/train.py"),
    ]
    assert outline.title == "demo"


def test_section_extracts_never_cross_headings():
    document = article()
    extracts = split_document(document, ExtractConfig(100, 300, sections=True))
    outline = parse_outline(document)
    assert extracts
    for extract in extracts:
        assert extract.text == document.content[extract.start : extract.end]
        assert not any(
            line.lstrip().startswith("#")
            for line in extract.text.splitlines()
            if not line.startswith("# not a heading")
        )
        region = outline.region_at(extract.start)
        assert region is not None and extract.end <= region.end
    assert "Jane Doe\n\nMar 07" not in " ".join(e.text for e in extracts)
    # Without sections the title block is part of the first extract.
    plain = split_document(document, ExtractConfig(100, 300))
    assert plain[0].text.startswith("# Jane Doe")
