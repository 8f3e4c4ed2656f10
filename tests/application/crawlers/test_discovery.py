"""Discovery from one root URL against the fixture sites on 127.0.0.1: sitemaps (index, gzip),
feeds, paginated archives, the Substack archive API, Medium feeds, GitHub accounts; URL keys,
budgets and politeness."""

import shutil
import time

import pytest

from llm_twin.application.crawlers.discovery import (
    DiscoveryOptions,
    discover,
    expand_links,
    is_discovery_root,
    link_key,
)
from llm_twin.application.crawlers.discovery import platforms as platform_listings
from llm_twin.application.crawlers.discovery.urls import clean_link, non_article_reason
from llm_twin.application.crawlers.http import HttpFetcher
from llm_twin.application.crawlers.politeness import HostThrottle
from tools.fixture_site import SITE_ROOT, FixtureSite

BLOG_POSTS = [
    "janeblog/2024/10/lessons-from-a-year-of-agents/",
    "janeblog/2024/06/caching-embeddings/",
    "janeblog/2024/02/chunking-markdown-for-rag/",
    "janeblog/2023/12/small-models-big-context/",
    "janeblog/2023/09/why-i-write-evals-first/",
]
SUBSTACK_POSTS = [
    "substack/p/what-i-learned-shipping-a-twin.html",
    "substack/p/the-case-for-boring-retrieval.html",
    "substack/p/scaling-rag-on-a-laptop.html",
    "substack/p/fine-tuning-on-a-budget.html",
]


def options_for(site: FixtureSite, **overrides: object) -> DiscoveryOptions:
    values: dict[str, object] = {
        "github_web_url": site.url("gh/"),
        "github_api_url": site.url("gh-api"),
        "platforms": (
            (site.url("substack/"), "substack"),
            (site.url("medium/"), "medium"),
            (site.url("in/"), "linkedin"),
        ),
    }
    values.update(overrides)
    return DiscoveryOptions(**values)


@pytest.fixture
def fetcher(settings) -> HttpFetcher:
    return HttpFetcher(settings)


def test_link_key_is_one_per_article_whatever_the_url_form() -> None:
    same = [
        "https://www.jane.dev/blog/post/",
        "http://jane.dev/blog/post",
        "https://jane.dev/blog/post/index.html",
        "https://jane.dev/blog/post/?utm_source=rss&utm_medium=feed",
        "https://JANE.dev:443/blog/post#comments",
    ]
    assert len({link_key(link) for link in same}) == 1
    assert link_key("https://x.substack.com/p/a?r=2bk9&utm_campaign=post") == link_key(
        "https://x.substack.com/p/a"
    )
    assert link_key("https://github.com/jane/repo.git") == link_key("https://github.com/jane/repo")
    # Parameters that select content are kept.
    assert link_key("https://jane.dev/?p=42") != link_key("https://jane.dev/?p=43")
    assert clean_link("https://jane.dev/a/?utm_source=x&id=3") == "https://jane.dev/a/?id=3"


@pytest.mark.parametrize(
    ("link", "reason"),
    [
        ("https://jane.dev/2024/05/notes/", None),
        ("https://jane.dev/p/notes", None),
        ("https://jane.dev/tag/rag/", "listing"),
        ("https://jane.dev/category/notes/", "listing"),
        ("https://jane.dev/about/", "listing"),
        ("https://jane.dev/login", "listing"),
        ("https://jane.dev/page/2/", "listing"),
        ("https://jane.dev/2024/05/", "listing"),
        ("https://jane.dev/?page=3", "listing"),
        ("https://jane.dev/", "listing"),
        ("https://jane.dev/assets/cover.png", "asset"),
        ("https://jane.dev/feed.xml", "asset"),
        ("mailto:jane@jane.dev", "not_http"),
    ],
)
def test_non_article_pages_are_recognised(link: str, reason: str | None) -> None:
    assert non_article_reason(link) == reason


def test_roots_are_told_from_articles(site) -> None:
    options = options_for(site)
    for root in [
        "https://jane.dev/",
        "https://jane.dev/blog/",
        "https://jane.dev/writing/archive",
        "https://medium.com/@jane",
        "https://jane.medium.com/",
        site.url("gh/jane-doe"),
        site.url("substack/"),
        site.url("medium/jane-doe/"),
    ]:
        assert is_discovery_root(root, options), root
    for link in [
        "https://jane.dev/2024/05/notes/",
        "https://github.com/jane/repo",
        "https://www.linkedin.com/in/jane/",
        site.url("in/jane-doe/"),
        site.url("git/twin-toolkit.git"),
        site.url("substack/p/scaling-rag-on-a-laptop.html"),
    ]:
        assert not is_discovery_root(link, options), link
    assert is_discovery_root("https://github.com/jane", DiscoveryOptions())


def test_blog_root_reads_the_sitemap_index_and_its_gzip_sitemap(site, fetcher) -> None:
    report, links = discover(site.url("janeblog/"), fetcher, options_for(site))
    assert report.error == ""
    assert (report.kind, report.method) == ("site", "sitemap")
    assert [link.url for link in links] == [site.url(path) for path in BLOG_POSTS]  # newest first
    assert links[0].published == "2024-10-03"
    assert report.discovered == report.new == 5
    # The pages sitemap lists the home, about, tag and category pages and an image: left out.
    assert report.skipped == {"listing": 3, "asset": 1}
    assert report.listings_read == 3  # index + posts (gzip) + pages


def test_blog_without_sitemap_uses_feed_and_paginated_archive(settings, tmp_path) -> None:
    root = tmp_path / "sites"
    shutil.copytree(SITE_ROOT, root, ignore=shutil.ignore_patterns("git"))
    for name in ("sitemap_index.xml", "sitemap-posts.xml", "sitemap-pages.xml"):
        (root / "janeblog" / name).unlink()
    (root / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n")
    with FixtureSite(root=root) as local:
        report, links = discover(local.url("janeblog/"), HttpFetcher(settings), options_for(local))
        requested = list(local.requested)
    assert report.method == "feed+archive"
    # The feed has the 3 newest (with tracking parameters); the archive's second page the rest.
    assert sorted(link.url for link in links) == sorted(local.url(p) for p in BLOG_POSTS)
    assert "/janeblog/page/2/" in requested
    by_url = {link.url: link for link in links}
    newest = by_url[local.url(BLOG_POSTS[0])]
    assert (newest.published, newest.tags) == ("2024-10-03", ["agents"])
    assert report.skipped.get("listing", 0) >= 2  # tag and category pages, not followed


def test_substack_root_reads_the_archive_api_page_by_page(site, fetcher, monkeypatch) -> None:
    monkeypatch.setattr(platform_listings, "SUBSTACK_PAGE_SIZE", 2)
    report, links = discover(site.url("substack/"), fetcher, options_for(site))
    assert (report.kind, report.method) == ("substack", "api")
    # The feed holds only the 2 newest posts; the archive all of them, minus a paid-only post
    # and a podcast episode. A referral parameter (?r=…) is dropped.
    assert [link.url for link in links] == [site.url(path) for path in SUBSTACK_POSTS]
    assert report.skipped == {"paywalled": 1, "not_a_post": 1}
    # The host's sitemaps (3 files, all of another section), then 4 API pages: 6 items, 2 per
    # page, the fourth page empty.
    assert report.listings_read == 3 + 4


MEDIUM_STORIES = [
    "medium/jane-doe/tracing-every-tool-call.html",
    "medium/jane-doe/why-your-agent-needs-a-budget.html",
    "medium/jane-doe/a-note-on-evals-for-agents.html",
]


def test_medium_profile_without_a_browser_reads_its_feed(site, fetcher) -> None:
    report, links = discover(site.url("medium/jane-doe/"), fetcher, options_for(site))
    assert report.kind == "medium"
    # The feed holds the recent stories only.
    assert [link.url for link in links] == [site.url(path) for path in MEDIUM_STORIES[:2]]
    assert links[1].tags == ["agents", "llm"]


def test_medium_profile_scrolled_in_chromium_lists_every_story(
    site, fetcher, settings, chromium
) -> None:
    from llm_twin.application.crawlers.browser import BrowserPool

    browsers = BrowserPool(settings)
    try:
        report, links = discover(
            site.url("medium/jane-doe/"), fetcher, options_for(site), browsers=browsers
        )
    finally:
        browsers.close()
    assert report.error == ""
    assert [link.url for link in links] == [site.url(path) for path in MEDIUM_STORIES]
    assert links[0].published == "2024-06-09"  # feed dates merged into the scrolled links


def test_github_account_lists_public_non_fork_repositories(site, fetcher) -> None:
    report, links = discover(site.url("gh/jane-doe"), fetcher, options_for(site))
    assert (report.kind, report.method) == ("github", "api")
    assert [link.url for link in links] == [
        site.url("git/twin-toolkit.git"),
        site.url("git/rag-recipes.git"),
    ]
    assert report.skipped == {"fork": 1}
    assert report.listings_read == 2  # 3 repositories, 2 per page, Link: rel="next"


def test_budget_keeps_the_newest_new_links_and_known_ones_are_skipped(site, fetcher) -> None:
    known = {link_key(site.url(BLOG_POSTS[0]) + "?utm_source=twitter")}
    report, links = discover(site.url("janeblog/"), fetcher, options_for(site, max_pages=2), known)
    assert [link.url for link in links] == [site.url(p) for p in BLOG_POSTS[1:3]]
    assert (report.discovered, report.already_stored, report.new, report.over_budget) == (
        5,
        1,
        2,
        2,
    )


def test_a_link_with_nothing_listed_under_it_is_crawled_as_a_page(site, fetcher) -> None:
    article = site.url("blog/2024/05/notes-on-lora-fine-tuning.html")
    report, links = discover(article, fetcher, options_for(site))
    assert report.method == "page"
    assert [link.url for link in links] == [article]


def test_unreachable_root_is_reported_not_raised(site, fetcher) -> None:
    report, links = discover(site.url("nowhere/"), fetcher, options_for(site))
    assert links == []
    assert report.error.startswith("http_error")


def test_expand_links_keeps_plain_links_and_expands_roots_once(site, fetcher) -> None:
    links = [
        site.url("git/twin-toolkit.git"),
        site.url("gh/jane-doe"),
        site.url("in/jane-doe/"),
        site.url("janeblog/"),
        site.url("janeblog/?utm_source=newsletter"),
    ]
    expansion = expand_links(links, fetcher, options_for(site), known_links=set())
    assert expansion.links == [
        site.url("git/twin-toolkit.git"),
        site.url("git/rag-recipes.git"),
        site.url("in/jane-doe/"),
        *[site.url(path) for path in BLOG_POSTS],
    ]
    assert len(expansion.sources) == 2  # the blog listed twice is discovered once
    assert expansion.counts()["links_discovered"] == 2 + 5


def test_throttle_spaces_requests_to_one_host() -> None:
    throttle = HostThrottle(delay_s=0.2)
    starts = []
    for _ in range(3):
        with throttle.slot("http://a.example/x"):
            starts.append(time.monotonic())
    with throttle.slot("http://b.example/x"):
        other = time.monotonic()
    assert starts[1] - starts[0] >= 0.19 and starts[2] - starts[1] >= 0.19
    assert other - starts[2] < 0.15  # another host does not wait


def test_fetcher_honours_crawl_delay(settings, tmp_path) -> None:
    root = tmp_path / "sites"
    shutil.copytree(SITE_ROOT / "notes", root / "notes")
    # Python's robots parser reads whole seconds only (what sites use in practice).
    (root / "robots.txt").write_text("User-agent: *\nCrawl-delay: 1\n")
    with FixtureSite(root=root) as local:
        fetcher = HttpFetcher(settings)
        began = time.monotonic()
        for _ in range(2):
            fetcher.get(local.url("notes/quantization-cheatsheet.html"))
        elapsed = time.monotonic() - began
        assert fetcher.crawl_delay(local.url("notes/")) == 1.0
    assert elapsed >= 0.95
