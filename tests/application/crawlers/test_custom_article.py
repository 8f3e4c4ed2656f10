"""The static-article crawler over real HTTP against the fixture site."""

import time

import pytest

from llm_twin.application.crawlers import build_dispatcher
from llm_twin.application.crawlers.base import CrawlError
from llm_twin.application.crawlers.custom_article import CustomArticleCrawler
from llm_twin.application.crawlers.http import HttpFetcher
from llm_twin.domain.documents import ArticleDocument

SUBSTACK = "substack/p/scaling-rag-on-a-laptop.html"


def crawl(settings, link: str, author, platform: str | None = None) -> list[ArticleDocument]:
    return CustomArticleCrawler(HttpFetcher(settings), platform).crawl(link, author)


def test_substack_article_becomes_a_document(site, settings, author) -> None:
    link = site.url(SUBSTACK)
    (document,) = crawl(settings, link, author, platform="substack")
    assert isinstance(document, ArticleDocument)
    assert document.link == link
    assert document.platform == "substack"
    assert document.author_id == author.id
    assert document.author_full_name == "Jane Doe"
    assert document.crawled_at is not None
    assert document.content["Title"] == "Scaling RAG on a Laptop"
    assert document.content["Author"] == "Jane Doe"
    assert document.content["Published"] == "2024-03-14"
    body = document.content["Content"]
    assert "Hybrid search is the cheapest quality win" in body
    assert "Thanks for reading" not in body and "Great write-up" not in body


def test_personal_blog_platform_is_its_host(site, settings, author) -> None:
    (document,) = crawl(settings, site.url("blog/2024/05/notes-on-lora-fine-tuning.html"), author)
    assert document.platform == "127.0.0.1"
    assert "Related posts" not in document.content["Content"]


def test_transient_503_is_retried(site, settings, author) -> None:
    (document,) = crawl(settings, site.url("flaky/scaling-rag-on-a-laptop.html"), author)
    assert "Chunk by structure" in document.content["Content"]


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("no-such-page.html", "http_error"),
        ("private/unpublished-draft.html", "robots_disallowed"),
        ("medium/api/why-your-agent-needs-a-budget.json", "not_html"),
        # The static shell of the JS-rendered story has no article text for a plain fetch.
        ("medium/jane-doe/why-your-agent-needs-a-budget.html", "empty_extraction"),
    ],
)
def test_failures_have_reasons(site, settings, author, path: str, reason: str) -> None:
    with pytest.raises(CrawlError) as error:
        crawl(settings, site.url(path), author)
    assert error.value.reason == reason


def test_404_is_not_retried(site, settings_with, author) -> None:
    started = time.perf_counter()
    with pytest.raises(CrawlError, match="HTTP 404"):
        crawl(settings_with(CRAWL_RETRIES=5), site.url("gone.html"), author)
    assert time.perf_counter() - started < 1.0


def test_slow_page_times_out(site, settings_with, author) -> None:
    started = time.perf_counter()
    with pytest.raises(CrawlError) as error:
        crawl(settings_with(CRAWL_TIMEOUT_S=0.5, CRAWL_RETRIES=2), site.url("slow/a.html"), author)
    assert error.value.reason == "timeout"
    # Two attempts of 0.5 s plus one backoff, far less than the page's delay.
    assert time.perf_counter() - started < 5.0


def test_robots_can_be_ignored_by_setting(site, settings_with, author) -> None:
    settings = settings_with(CRAWL_RESPECT_ROBOTS=False)
    (document,) = crawl(settings, site.url("private/unpublished-draft.html"), author)
    assert "disallowed by robots.txt" in document.content["Content"]


def test_loopback_is_refused_by_default(site, settings_with, author) -> None:
    with pytest.raises(CrawlError) as error:
        crawl(settings_with(CRAWL_ALLOW_PRIVATE_NETWORKS=False), site.url(SUBSTACK), author)
    assert error.value.reason == "private_network"


def test_dispatcher_fallback_crawls_any_http_page(site, settings, author) -> None:
    with build_dispatcher(settings) as dispatcher:
        route = dispatcher.route(site.url("notes/quantization-cheatsheet.html"))
        (document,) = route.crawler.crawl(site.url("notes/quantization-cheatsheet.html"), author)
    assert isinstance(route.crawler, CustomArticleCrawler)
    assert "| NF4 | 4 | QLoRA fine-tuning |" in document.content["Content"]
