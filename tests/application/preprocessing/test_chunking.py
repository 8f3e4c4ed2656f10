import itertools
import json
import re
import uuid

import pytest

from llm_twin.application.preprocessing.chunking import ChunkingConfig, TokenChunker
from llm_twin.application.preprocessing.handlers import chunk_text, handlers_for
from llm_twin.domain.documents import ArticleDocument
from llm_twin.domain.features import CleanedDocument
from llm_twin.domain.types import DataCategory

MAX_TOKENS = 256


def _cleaned(content: str, title: str | None = "A title", category=DataCategory.ARTICLES):
    doc_id = uuid.uuid4()
    return CleanedDocument(
        id=doc_id,
        document_id=doc_id,
        category=category,
        author_id=uuid.uuid4(),
        author_full_name="Ada Lovelace",
        platform="blog",
        link="https://example.test/a",
        title=title,
        content=content,
        source_hash="h",
    )


def _assert_chunks_valid(document, chunks, counter):
    text = document.content
    covered = [False] * len(text)
    for index, chunk in enumerate(chunks):
        assert chunk.chunk_index == index
        assert chunk.content == text[chunk.start_char : chunk.end_char]
        assert chunk.content.strip() == chunk.content and chunk.content
        tokens = len(counter.tokenizer(chunk_text(chunk))["input_ids"])  # with [CLS], [SEP]
        assert tokens <= MAX_TOKENS, (index, tokens)
        for position in range(chunk.start_char, chunk.end_char):
            covered[position] = True
        assert chunk.document_id == document.document_id
        assert chunk.title == document.title and chunk.link == document.link
    lost = "".join(char for char, hit in zip(text, covered, strict=True) if not hit)
    assert lost.strip() == "", f"text not in any chunk: {lost.strip()[:200]!r}"


def _chunk(document, counter, config=None):
    handler = handlers_for(document.category).chunker
    return handler.chunk(document, counter, MAX_TOKENS, config)


def test_sample_articles_fit_the_window_and_lose_nothing(sample_warehouse_dir, counter):
    articles = json.loads((sample_warehouse_dir / "ArticleDocument.json").read_text())
    # The one-line Medium pages, the Quarto blog posts and a few Substack issues.
    picked = [a for a in articles if a["platform"] in {"medium", "mlabonne.github.io"}][:4]
    picked += [a for a in articles if "substack" in a["platform"]][:4]
    for record in picked:
        document = handlers_for("articles").cleaner.clean(ArticleDocument.from_mongo(record))
        chunks = _chunk(document, counter)
        assert len(chunks) > 3
        _assert_chunks_valid(document, chunks, counter)


def test_adversarial_texts_never_exceed_the_window(counter):
    texts = [
        "x" * 5000,  # one huge "word"
        "supercalifragilistic" * 300,
        "🙂🚀" * 1500,  # characters outside the vocabulary
        "```\n"
        + "\n".join(f"    value_{i} = compute({i}, key='{i}')" for i in range(400))
        + "\n```",
        ("A sentence without a full stop and it goes on " * 200).strip(),
        "Short.",
    ]
    for text in texts:
        document = _cleaned(text, title="Ünïcödé title " * 8)
        _assert_chunks_valid(document, _chunk(document, counter), counter)


def test_chunks_prefer_paragraph_and_sentence_boundaries(counter):
    paragraphs = [
        " ".join(f"Paragraph {p} sentence {s} talks about embeddings." for s in range(12))
        for p in range(8)
    ]
    document = _cleaned("\n\n".join(paragraphs))
    chunks = _chunk(document, counter, ChunkingConfig(chunk_tokens=200, overlap_tokens=0))
    _assert_chunks_valid(document, chunks, counter)
    assert all(chunk.content.endswith(".") for chunk in chunks)
    assert all(re.match(r"Paragraph \d+ sentence \d+", chunk.content) for chunk in chunks)


def test_overlap_repeats_trailing_sentences_and_no_overlap_concatenates(counter):
    text = " ".join(f"Sentence number {i} is here." for i in range(300))
    document = _cleaned(text)
    plain = _chunk(document, counter, ChunkingConfig(chunk_tokens=128, overlap_tokens=0))
    assert " ".join(chunk.content for chunk in plain) == text
    overlapping = _chunk(document, counter, ChunkingConfig(chunk_tokens=128, overlap_tokens=24))
    _assert_chunks_valid(document, overlapping, counter)
    assert len(overlapping) > len(plain)
    for previous, following in itertools.pairwise(overlapping):
        assert following.start_char < previous.end_char  # shared trailing sentences
        assert following.end_char > previous.end_char  # and progress


def test_last_short_chunk_is_kept(counter):
    text = " ".join(f"Filler sentence {i}." for i in range(120)) + "\n\nTail."
    chunks = _chunk(_cleaned(text), counter, ChunkingConfig(chunk_tokens=100, overlap_tokens=0))
    assert chunks[-1].content.endswith("Tail.")


def test_repository_chunks_start_files_on_their_own(counter):
    files = "\n\n".join(
        f"### File: pkg/m{i}.py\n\n" + "\n".join(f"def f{j}():\n    return {j}" for j in range(60))
        for i in range(3)
    )
    document = _cleaned(files, title="ada/repo", category=DataCategory.REPOSITORIES)
    chunks = _chunk(document, counter)
    _assert_chunks_valid(document, chunks, counter)
    starts = [chunk for chunk in chunks if chunk.content.startswith("### File: ")]
    assert len(starts) == 3


def test_config_validation_and_empty_text(counter):
    with pytest.raises(ValueError, match="at most half"):
        ChunkingConfig(chunk_tokens=100, overlap_tokens=60)
    assert TokenChunker(counter).chunk("   \n ", 100) == []
    with pytest.raises(ValueError, match="leaves only"):
        _chunk(_cleaned("text", title="word " * 60), counter, ChunkingConfig(chunk_tokens=64))


def test_headings_stay_with_the_text_they_introduce(counter):
    sections = [
        f"## Section {i}\n\n" + " ".join(f"Point {j} of section {i} matters." for j in range(9))
        for i in range(10)
    ]
    document = _cleaned("\n\n".join(sections))
    chunks = _chunk(document, counter, ChunkingConfig(chunk_tokens=120, overlap_tokens=0))
    _assert_chunks_valid(document, chunks, counter)
    assert not [c for c in chunks if c.content.splitlines()[-1].startswith("#")]
