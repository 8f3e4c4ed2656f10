"""Issue 19: tags read from the page itself (``article:tag`` meta, JSON-LD ``keywords``,
``rel="tag"`` links) into the document's ``Tags`` and from there every chunk's payload."""

import json

from llm_twin.application.crawlers.custom_article import CustomArticleCrawler
from llm_twin.application.crawlers.http import HttpFetcher
from llm_twin.application.crawlers.tags import MAX_TAGS, page_tags
from llm_twin.application.publication import publication_payload


def _page(head: str = "", body: str = "") -> str:
    return f"<html><head>{head}</head><body>{body}</body></html>"


def test_meta_tags_in_page_order_without_duplicates() -> None:
    html = _page(
        '<meta property="article:tag" content="RAG">'
        '<meta property="og:article:tag" content="agents">'
        '<meta property="article:tag" content="rag">'  # the same tag, other case
        '<meta name="keywords" content="seo, words, everywhere">'  # site-wide noise: ignored
    )
    assert page_tags(html) == ["RAG", "agents"]


def test_json_ld_keywords_of_the_article_object_only() -> None:
    graph = {
        "@graph": [
            {"@type": "WebSite", "keywords": "site, wide"},
            {"@type": ["BlogPosting"], "keywords": "lora, fine-tuning ,  peft"},
        ]
    }
    html = _page(f'<script type="application/ld+json">{json.dumps(graph)}</script>')
    assert page_tags(html) == ["lora", "fine-tuning", "peft"]
    listed = {"@type": "Article", "keywords": ["Evaluation", "#evals"]}
    html = _page(f'<script type="application/ld+json">{json.dumps([listed])}</script>')
    assert page_tags(html) == ["Evaluation", "evals"]
    broken = _page('<script type="application/ld+json">{"@type": "Article", </script>')
    assert page_tags(broken) == []


def test_rel_tag_links_and_pages_without_tags() -> None:
    html = _page(body='<a rel="tag" href="/t/x">#Python</a> <a rel="nofollow tag">Go</a>'
                      '<a href="/tag/ignored">not marked</a>')  # fmt: skip
    assert page_tags(html) == ["Python", "Go"]
    assert page_tags(_page(body="<p>no tags</p>")) == []
    assert page_tags("") == []
    many = "".join(f'<meta property="article:tag" content="t{n}">' for n in range(50))
    assert len(page_tags(_page(many))) == MAX_TAGS


def test_fixture_pages_give_their_tags_to_documents_and_payloads(site, settings, author) -> None:
    crawler = CustomArticleCrawler(HttpFetcher(settings))
    expected = {
        "janeblog/2024/06/caching-embeddings/": ["rag", "performance"],  # article:tag
        "substack/p/what-i-learned-shipping-a-twin.html": ["digital twin", "Data collection"],
        "substack/p/the-case-for-boring-retrieval.html": ["Retrieval", "BM25"],  # rel="tag"
    }
    for path, tags in expected.items():
        (document,) = crawler.crawl(site.url(path), author)
        assert document.content["Tags"] == tags, path
        assert publication_payload(document)["tags"] == tags
    (untagged,) = crawler.crawl(site.url("substack/p/scaling-rag-on-a-laptop.html"), author)
    assert "Tags" not in untagged.content
    assert "tags" not in publication_payload(untagged)
