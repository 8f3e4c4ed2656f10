"""One root URL → every article stored once and nothing else; a second run stores and fetches
nothing; an interrupted run, re-run, loses nothing and re-fetches nothing already stored."""

import pytest

from llm_twin.application.crawlers import build_dispatcher
from llm_twin.application.crawlers.discovery import DiscoveryOptions
from llm_twin.application.crawlers.ingest import ingest
from llm_twin.domain.types import DataCategory
from tests.application.crawlers.test_discovery import (
    BLOG_POSTS,
    MEDIUM_STORIES,
    SUBSTACK_POSTS,
    options_for,
)

FIXTURES = {
    "blog": ("janeblog/", BLOG_POSTS, DataCategory.ARTICLES, False),
    "substack": ("substack/", SUBSTACK_POSTS, DataCategory.ARTICLES, False),
    "github": (
        "gh/jane-doe",
        ["git/twin-toolkit.git", "git/rag-recipes.git"],
        DataCategory.REPOSITORIES,
        False,
    ),
    "medium": (
        "medium/jane-doe/",
        MEDIUM_STORIES,
        DataCategory.ARTICLES,
        True,
    ),
}


def run(site, settings, warehouse, author, roots, options: DiscoveryOptions | None = None,
        **kwargs):  # fmt: skip
    options = options or options_for(site)
    with build_dispatcher(settings) as dispatcher:
        for prefix, platform in options.platforms:
            dispatcher.override(prefix, platform)
        return ingest(roots, author, warehouse, dispatcher, options, **kwargs)


def stored_links(warehouse) -> list[str]:
    return sorted(
        link for category in DataCategory for link in warehouse.documents(category).links()
    )


@pytest.mark.parametrize("name", list(FIXTURES))
def test_one_root_stores_every_article_once_then_nothing(
    name, site, settings, warehouse, author, request
) -> None:
    root, expected, category, needs_browser = FIXTURES[name]
    if needs_browser:
        request.getfixturevalue("chromium")
    first = run(site, settings, warehouse, author, [site.url(root)])
    assert [outcome.discovery.error for outcome in first.sources] == [""]
    assert first.counts()["links_failed"] == 0, first.reports
    assert stored_links(warehouse) == sorted(site.url(path) for path in expected)
    assert first.saved[f"{category}_inserted"] == len(expected)
    before = len(site.requested)

    second = run(site, settings, warehouse, author, [site.url(root)])
    counts = second.counts()
    assert counts["links_total"] == 0  # nothing handed to a crawler
    assert counts["discovered_already_stored"] == len(expected)
    assert second.saved.get("documents_inserted", 0) == 0
    assert stored_links(warehouse) == sorted(site.url(path) for path in expected)
    fetched = site.requested[before:]
    assert not [path for path in fetched if any(path.startswith("/" + p) for p in expected)]


class Killed(BaseException):
    """What a kill does to the crawl: it stops there, nothing after it runs (not an
    ``Exception``, so no per-link handler records it as a failure)."""


@pytest.mark.parametrize(("checkpoint", "saved"), [(1, 3), (2, 2)])
def test_interrupted_run_resumes_without_refetching(
    checkpoint, saved, site, settings, warehouse, author, monkeypatch
) -> None:
    """The crawl dies while fetching the 4th article: what was saved by then (every link with
    ``checkpoint=1``, pairs with 2) stays, and the re-run fetches only the other pages."""
    from llm_twin.application.crawlers.custom_article import CustomArticleCrawler

    real_crawl = CustomArticleCrawler.crawl
    crawled: list[str] = []

    def crawl_then_die(self, link, author):
        if len(crawled) == 3:
            raise Killed
        crawled.append(link)
        return real_crawl(self, link, author)

    monkeypatch.setattr(CustomArticleCrawler, "crawl", crawl_then_die)
    before = len(site.requested)
    with pytest.raises(Killed):
        run(site, settings, warehouse, author, [site.url("janeblog/")], concurrency=1,
            checkpoint=checkpoint, checkpoint_s=3600)  # fmt: skip
    stored_first = stored_links(warehouse)
    assert stored_first == sorted(crawled[:saved])
    assert len(site.requested) - before > 0
    articles_fetched = [p for p in site.requested[before:] if p.lstrip("/") in BLOG_POSTS]
    assert len(articles_fetched) == 3  # the 4th was never fetched: the crawl died first

    monkeypatch.setattr(CustomArticleCrawler, "crawl", real_crawl)
    middle = len(site.requested)
    result = run(site, settings, warehouse, author, [site.url("janeblog/")], checkpoint=1)
    assert stored_links(warehouse) == sorted(site.url(path) for path in BLOG_POSTS)
    assert result.counts()["discovered_already_stored"] == saved
    assert result.saved["documents_inserted"] == len(BLOG_POSTS) - saved
    refetched = site.requested[middle:]
    for link in stored_first:  # stored before the interruption: never fetched again
        assert link.removeprefix(site.base_url) not in refetched
    for path in BLOG_POSTS:  # each page fetched once, or twice if crawled but never saved
        expected = 1 if site.url(path) in stored_first else 1 + (site.url(path) in crawled)
        assert site.requested[before:].count("/" + path) == expected, path


def test_budget_spreads_a_large_site_over_runs(site, settings, warehouse, author) -> None:
    options = options_for(site, max_pages=2)
    runs = [run(site, settings, warehouse, author, [site.url("janeblog/")], options)
            for _ in range(3)]  # fmt: skip
    assert [r.saved.get("documents_inserted", 0) for r in runs] == [2, 2, 1]
    assert [r.sources[0].discovery.over_budget for r in runs] == [3, 1, 0]
    assert stored_links(warehouse) == sorted(site.url(path) for path in BLOG_POSTS)


def test_failures_are_reported_per_source(site, settings, warehouse, author) -> None:
    result = run(site, settings, warehouse, author, [site.url("nowhere/"), site.url("gh/jane-doe")])
    failed, github = result.sources
    assert failed.discovery.error.startswith("http_error")
    assert github.crawled == 2 and not github.failed
    assert not result.failed  # one source worked
