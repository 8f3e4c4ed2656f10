import json
import uuid

import pytest

from llm_twin.application.preprocessing.cleaning import clean_text, clean_title
from llm_twin.application.preprocessing.handlers import (
    HandlerSet,
    handlers_for,
    register,
    registered_categories,
)
from llm_twin.domain.documents import ArticleDocument, PostDocument, RepositoryDocument
from llm_twin.domain.types import DataCategory

CODE = """```python
def score(xs: list[int]) -> dict[str, float]:
    # weights {a: 1}; x**2 >= 0 && y != 0
    return {"mean": sum(xs) / len(xs), "max": max(xs) * 1.5}  # 100% @decorator ~ `tick`
```"""

AUTHOR = uuid.uuid4()


def _article(content: str, platform: str = "decodingml.substack.com", **extra) -> ArticleDocument:
    return ArticleDocument(
        content={"Title": "A title", "Content": content, **extra},
        platform=platform,
        link=f"https://example.test/{uuid.uuid4()}",
        author_id=AUTHOR,
        author_full_name="Ada Lovelace",
    )


def test_cleaning_keeps_code_punctuation_and_markdown():
    text = (
        "# Heading\n\nSome *emphasis*, a question? Yes! (Really.) Price: $5 - 10% off; "
        "see [the docs](https://x.test/a) & `inline_code()`.\n\n"
        f"{CODE}\n\n  * nested item\n    * deeper item\n\n| a | b |\n|---|---|\n| 1 | 2 |"
    )
    cleaned = clean_text(text)
    assert CODE in cleaned
    for kept in (
        "# Heading",
        "*emphasis*,",
        "question? Yes! (Really.)",
        "$5 - 10% off;",
        "[the docs](https://x.test/a)",
        "`inline_code()`",
        "  * nested item",
        "    * deeper item",
        "| a | b |",
    ):
        assert kept in cleaned, kept


def test_cleaning_normalises_unicode_and_whitespace_and_drops_url_lines():
    text = "𝗣𝘂𝘀𝗵 the model\u200b   to   the registry.\r\n\n\n\n\nhttps://example.test/only-a-link\nEnd."
    assert clean_text(text) == "Push the model to the registry.\n\nEnd."


def test_cleaning_drops_substack_chrome():
    text = (
        "# Site\n\nSubscribeSign in\n\nShare this post\n\n#### The title\n\nsite.substack.com\n\n"
        "Copy link\n\nFacebook\n\nEmail\n\nNote\n\nOther\n\n# The title\n\nReal first paragraph."
        "\n\n6\n\nShare this post\n\n#### The title\n\nsite.substack.com\n\nCopy link\n\nFacebook"
        "\n\nEmail\n\nNote\n\nOther\n\nShare\n\nPreviousNext\n\n#### Discussion about this post\n\n"
        "Comments\n\nRestacks\n\nSubscribe\n\n© 2024 Someone\n\nPrivacy ∙ Terms ∙ Collection notice"
    )
    assert clean_text(text) == "# Site\n\n# The title\n\nReal first paragraph."


def test_cleaning_drops_medium_header_and_footer():
    body = "First sentence of the body. " * 40
    text = (
        "Title hereSubtitle hereJane Doe·FollowPublished inPub·5 min read·Jun 1, 2024120"
        f"ListenShare{body}Sign up to discover human stories that deepen your understanding"
        "Written by Jane DoeMore from Jane DoeRecommended from MediumTo make Medium work, we log"
    )
    assert clean_text(text, "medium") == body.strip()


def test_sample_corpus_loses_chrome_but_keeps_text(sample_warehouse_dir):
    articles = json.loads((sample_warehouse_dir / "ArticleDocument.json").read_text())
    raw_total = cleaned_total = 0
    for record in articles:
        document = ArticleDocument.from_mongo(record)
        cleaned = handlers_for("articles").cleaner.clean(document)
        for chrome in (
            "SubscribeSign in",
            "Share this post",
            "Discussion about this post",
            "Copy link",
            "ListenShare",
            "To make Medium work",
            "* __LLM Course",
        ):
            assert chrome not in cleaned.content, (chrome, document.link)
        assert cleaned.id == cleaned.document_id == document.id
        assert cleaned.source_hash == document.content_hash
        assert cleaned.title and len(cleaned.title) <= 151
        raw_total += len(record["content"]["Content"])
        cleaned_total += len(cleaned.content)
    assert 0.75 * raw_total < cleaned_total < raw_total


def test_clean_title_is_one_bounded_line():
    assert clean_title("  A\n title  ") == "A title"
    long = clean_title("word " * 100)
    assert len(long) <= 151 and long.endswith("…")


def test_post_and_repository_cleaners():
    post = PostDocument(
        content={"text": "Hello   world!\n\nhttps://lnkd.in/x"},
        platform="linkedin",
        link="https://linkedin.test/p/1",
        author_id=AUTHOR,
        author_full_name="Ada Lovelace",
    )
    cleaned_post = handlers_for(DataCategory.POSTS).cleaner.clean(post)
    assert cleaned_post.content == "Hello world!"
    assert cleaned_post.title is None
    repo = RepositoryDocument(
        name="ada/engine",
        content={
            "src/a.py": "x  =  1\r\n\ty = {'k': [1, 2]}  \n",
            "bin.dat": "\x00\x01",
            "README.md": "# Engine",
        },
        platform="github",
        link="https://github.test/ada/engine",
        author_id=AUTHOR,
        author_full_name="Ada Lovelace",
    )
    cleaned_repo = handlers_for("repositories").cleaner.clean(repo)
    assert cleaned_repo.title == "ada/engine"
    assert cleaned_repo.content == (
        "### File: README.md\n\n# Engine\n\n### File: src/a.py\n\nx  =  1\n\ty = {'k': [1, 2]}"
    )


def test_registry_has_every_category_and_names_unknown_ones():
    assert set(registered_categories()) == set(DataCategory)
    with pytest.raises(ValueError, match="unknown data category 'videos'"):
        handlers_for("videos")
    original = handlers_for(DataCategory.POSTS)
    replacement = HandlerSet(handlers_for("articles").cleaner, original.chunker, original.embedder)
    try:
        register(DataCategory.POSTS, replacement)
        assert handlers_for("post") is replacement
    finally:
        register(DataCategory.POSTS, original)
