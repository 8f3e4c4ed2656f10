"""The same text on two platforms is stored twice with a pointer and indexed once; canonical
links and tracking parameters make one article reached by two URLs one document."""

import uuid

from llm_twin.application.crawlers.canonical import declared_canonical, same_site_canonical
from llm_twin.application.crawlers.links import normalize_link
from llm_twin.application.crawlers.saving import save_documents
from llm_twin.application.crossposts import CROSS_POST_KEY, fingerprint, mark_cross_posts
from llm_twin.domain.documents import ArticleDocument

BODY = " ".join(f"word{i}" for i in range(80))


def article(link: str, body: str = BODY, author: uuid.UUID | None = None) -> ArticleDocument:
    return ArticleDocument(
        content={"Title": "T", "Content": body},
        platform="blog",
        link=link,
        author_id=author or AUTHOR,
        author_full_name="Jane Doe",
    )


AUTHOR = uuid.uuid4()


def test_fingerprint_ignores_layout_and_case_but_not_words() -> None:
    assert fingerprint(article("a", BODY)) == fingerprint(article("b", BODY.upper() + "\n\n!"))
    assert fingerprint(article("a", BODY)) != fingerprint(article("b", BODY + " more"))
    assert fingerprint(article("a", "too short to compare")) is None


def test_later_copies_point_to_the_first() -> None:
    original = article("https://jane.dev/post/")
    copy = article("https://medium.com/@jane/post-123")
    other_author = article("https://elsewhere.dev/post", author=uuid.uuid4())
    assert mark_cross_posts([copy, other_author], stored=[original]) == 1
    assert copy.content[CROSS_POST_KEY] == "https://jane.dev/post/"
    assert CROSS_POST_KEY not in other_author.content


def test_saving_keeps_both_records_with_a_pointer(warehouse) -> None:
    first = save_documents(warehouse, [article("https://jane.dev/post/")])
    assert "documents_cross_posted" not in first
    second = save_documents(warehouse, [article("https://medium.com/@jane/post-123")])
    assert second["documents_cross_posted"] == 1 and second["documents_inserted"] == 1
    copy = warehouse.articles.get_by_link("https://medium.com/@jane/post-123")
    assert copy.content[CROSS_POST_KEY] == "https://jane.dev/post/"
    again = save_documents(warehouse, [article("https://medium.com/@jane/post-123")])
    assert again["documents_unchanged"] == 1  # re-crawling the copy rewrites nothing


def test_tracking_parameters_are_not_part_of_a_link() -> None:
    assert normalize_link("https://x.substack.com/p/a?r=2bk9&utm_campaign=post") == (
        "https://x.substack.com/p/a"
    )
    assert normalize_link("https://medium.com/@j/a-1?source=rss----2") == (
        "https://medium.com/@j/a-1"
    )
    assert normalize_link("https://jane.dev/?p=42&utm_source=x") == "https://jane.dev/?p=42"


def test_same_site_canonical_is_the_stored_link() -> None:
    html = b'<html><head><link rel="canonical" href="/post/"></head><body></body></html>'
    assert declared_canonical(html, "https://jane.dev/post?x=1") == "https://jane.dev/post/"
    assert same_site_canonical(html, "https://www.jane.dev/post", "https://www.jane.dev/post") == (
        "https://www.jane.dev/post/"
    )
    syndicated = b'<link rel="canonical" href="https://jane.dev/post/">'
    assert same_site_canonical(syndicated, "https://medium.com/p/1", "https://medium.com/p/1") == (
        "https://medium.com/p/1"
    )
