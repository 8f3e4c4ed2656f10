"""Discovery: turn one root URL (a blog, a Substack, a Medium profile, a GitHub account) into
the article or repository links it stands for, before they are crawled one by one.

Order for a site: its sitemaps (``Sitemap:`` lines of robots.txt, ``sitemap.xml`` and nested
indexes; complete) → a platform API (Substack's archive) → its feeds (``<link
rel="alternate">`` or the usual paths) together with its archive pages and their pagination
(the feed alone only holds recent posts). A GitHub account is read from the API. Links already
in the warehouse are dropped before the ``max_pages`` budget is applied, so a run that was
interrupted, or a budget smaller than the site, goes on where the last run stopped.
"""

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from loguru import logger
from pydantic import BaseModel, Field

from llm_twin.application.crawlers.base import CrawlError
from llm_twin.application.crawlers.browser import BrowserPool
from llm_twin.application.crawlers.discovery import feeds, platforms
from llm_twin.application.crawlers.discovery.archive import read_archive
from llm_twin.application.crawlers.discovery.sitemap import read_sitemaps
from llm_twin.application.crawlers.discovery.urls import (
    Scope,
    clean_link,
    link_key,
    non_article_reason,
)
from llm_twin.application.crawlers.http import HttpFetcher, Page
from llm_twin.settings import CrawlSettings, Settings

#: Last path segments that name a listing of posts.
ARCHIVE_NAMES = frozenset({"archive", "archives", "posts", "blog", "articles", "writing", "essays"})
#: The crawl settings' declared defaults (no environment read), the options' defaults.
_CRAWL_DEFAULTS = CrawlSettings.model_construct()


@dataclass(frozen=True)
class DiscoveryOptions:
    """How far discovery goes (:meth:`from_settings` takes the ``CRAWL_*``/``GITHUB_*``
    settings; a pipeline config's ``discovery`` mapping overrides them).

    Attributes:
        max_pages: New links kept per source (newest first when dates are known); the rest
            are left for the next run (``CRAWL_MAX_PAGES``).
        max_listing_pages: Archive pages read per source (``CRAWL_MAX_LISTING_PAGES``).
        github_web_url: Where GitHub account pages live, a local fixture in tests
            (``GITHUB_WEB_URL``).
        github_api_url: The GitHub REST API base URL (``GITHUB_API_URL``).
        platforms: ``{URL prefix: platform}`` overrides (a Medium publication on its own
            domain, the fixture site's sections), as the ETL's ``platforms`` parameter.
        delay_s: Seconds between two requests to one host, discovery and crawl alike (a
            site's larger ``Crawl-delay`` wins; ``CRAWL_DELAY_S``).
    """

    max_pages: int = _CRAWL_DEFAULTS.max_pages
    max_listing_pages: int = _CRAWL_DEFAULTS.max_listing_pages
    github_web_url: str = _CRAWL_DEFAULTS.github_web_url
    github_api_url: str = _CRAWL_DEFAULTS.github_api_url
    platforms: tuple[tuple[str, str], ...] = ()
    delay_s: float = _CRAWL_DEFAULTS.delay_s

    @classmethod
    def from_settings(
        cls, settings: Settings, platforms: Mapping[str, str] | None = None
    ) -> "DiscoveryOptions":
        """The options the crawl settings give, with ``platforms`` overrides.

        Args:
            settings: The ``CRAWL_MAX_PAGES``, ``CRAWL_MAX_LISTING_PAGES``, ``CRAWL_DELAY_S``,
                ``GITHUB_WEB_URL`` and ``GITHUB_API_URL`` settings.
            platforms: ``{URL prefix: platform}`` overrides.
        """
        crawl = settings.crawl
        return cls(
            max_pages=crawl.max_pages,
            max_listing_pages=crawl.max_listing_pages,
            github_web_url=crawl.github_web_url,
            github_api_url=crawl.github_api_url,
            platforms=tuple((platforms or {}).items()),
            delay_s=crawl.delay_s,
        )

    def platform_of(self, link: str) -> str | None:
        """The overridden platform of ``link`` (longest matching prefix), else the known host's."""
        matches = [
            (len(prefix), platform)
            for prefix, platform in self.platforms
            if link.startswith(prefix)
        ]
        if matches:
            return max(matches)[1]
        host = urlsplit(link).hostname or ""
        if host == "medium.com" or host.endswith(".medium.com"):
            return "medium"
        if platforms.is_substack(link):
            return "substack"
        return None


class DiscoveredLink(BaseModel):
    """A link discovery found, with what the listing said about it.

    Attributes:
        url: The link (tracking parameters removed).
        published: Publication date (``YYYY-MM-DD``) from the feed, sitemap ``lastmod`` or API.
        tags: Tags from the feed.
        source: The root URL it was found from.
    """

    url: str
    published: str | None = None
    tags: list[str] = Field(default_factory=list)
    source: str = ""


class SourceReport(BaseModel):
    """What discovery did with one root URL.

    Attributes:
        root: The root URL as given.
        kind: ``site``, ``substack``, ``medium`` or ``github``.
        method: Where the links came from: ``sitemap``, ``api``, ``feed+archive`` (plus the
            scrolled profile page for Medium), or ``page``
            (nothing listed: the root is crawled as a page itself).
        discovered: Article-like links found (before dropping stored ones and the budget).
        new: Links handed to the crawler this run.
        already_stored: Links skipped because the warehouse has them.
        over_budget: New links left for a later run by ``max_pages``.
        skipped: Other links left out, by reason (``listing``, ``asset``, ``other_site``,
            ``fork``, ``paywalled``…).
        listings_read: Sitemap files, feeds, archive and API pages read.
        error: Why discovery failed, when it did ("" otherwise).
        seconds: Time spent.
    """

    root: str
    kind: str = "site"
    method: str = ""
    discovered: int = 0
    new: int = 0
    already_stored: int = 0
    over_budget: int = 0
    skipped: dict[str, int] = Field(default_factory=dict)
    listings_read: int = 0
    error: str = ""
    seconds: float = 0.0

    def skip(self, reason: str, count: int = 1) -> None:
        if count:
            self.skipped[reason] = self.skipped.get(reason, 0) + count


def is_discovery_root(link: str, options: DiscoveryOptions) -> bool:
    """True when ``link`` names a body of work rather than one article: a site's or section's
    home (``/``, ``/blog/``), an archive page, a Medium profile or publication, a GitHub
    account. Other links (articles, repositories, LinkedIn profiles) are crawled as they are."""
    if platforms.github_account(link, options.github_web_url):
        return True
    if platforms.medium_feed_url(link):
        return True
    parts = urlsplit(link)
    if parts.scheme not in {"http", "https"} or parts.query:
        return False
    segments = [segment for segment in parts.path.split("/") if segment]
    if not segments:
        return True
    if segments[-1].lower() in ARCHIVE_NAMES:
        return True
    platform = options.platform_of(link)
    return parts.path.endswith("/") and (len(segments) == 1 or platform in {"medium", "substack"})


def discover(
    root: str,
    fetcher: HttpFetcher,
    options: DiscoveryOptions,
    known_keys: set[str] | frozenset[str] = frozenset(),
    browsers: BrowserPool | None = None,
) -> tuple[SourceReport, list[DiscoveredLink]]:
    """The new links ``root`` stands for and the report of how they were found.

    Never raises for a bad source: the report's ``error`` says what failed and no link is
    returned. When nothing is listed, the root itself is returned (``method="page"``).

    Args:
        root: The root URL.
        fetcher: The crawler's fetcher (robots rules, network policy, retries, politeness).
        options: Budget, API locations, platform overrides.
        known_keys: :func:`link_key` of every link already in the warehouse.
        browsers: Headless Chromium for profiles that list stories only as one scrolls
            (Medium); without it their feed (recent stories only) is read.
    """
    began = time.perf_counter()
    report = SourceReport(root=root)
    try:
        found = _discover(clean_link(root), fetcher, options, report, browsers)
    except CrawlError as error:
        report.error = f"{error.reason}: {error}"
        report.seconds = round(time.perf_counter() - began, 3)
        logger.warning("discovery of {} failed: {}", root, error)
        return report, []
    links = _select(found, root, options, known_keys, report)
    report.seconds = round(time.perf_counter() - began, 3)
    logger.info(
        "{}: {} found by {}, {} new, {} already stored, {} over budget",
        root,
        report.discovered,
        report.method,
        report.new,
        report.already_stored,
        report.over_budget,
    )
    return report, links


def _discover(
    root: str,
    fetcher: HttpFetcher,
    options: DiscoveryOptions,
    report: SourceReport,
    browsers: BrowserPool | None,
) -> list[DiscoveredLink]:
    owner = platforms.github_account(root, options.github_web_url)
    if owner:
        report.kind, report.method = "github", "api"
        # The REST API is a programmatic interface, not pages: api.github.com's robots.txt
        # disallows crawlers everywhere, which is about its HTML, not the API.
        listing = platforms.github_repositories(
            lambda url: fetcher.get(url, check_robots=False), owner, options.github_api_url
        )
        return _from_listing(listing, report)
    report.kind = options.platform_of(root) or "site"
    scope = Scope.of(root)
    home = fetcher.get(root)
    found = _from_sitemaps(fetcher, scope, report)
    if found:
        report.method = "sitemap"
        return found
    if report.kind == "substack":
        try:
            listing = platforms.substack_archive(fetcher.get, scope.root)
        except CrawlError as error:
            logger.debug("no Substack archive API under {}: {}", root, error)
        else:
            report.method = "api"
            return _from_listing(listing, report)
    found = _from_feeds(fetcher, home, scope, report)
    archive = read_archive(fetcher.get, scope, options.max_listing_pages)
    report.listings_read += len(archive.pages)
    for reason, count in archive.skipped.items():
        report.skip(reason, count)
    found += [DiscoveredLink(url=url) for url in archive.links]
    if report.kind == "medium" and browsers is not None:
        found += _from_scrolled_profile(root, fetcher, browsers, scope, report)
    if found:
        report.method = "feed+archive"
        return found
    report.method = "page"
    return [DiscoveredLink(url=root)]


def _from_scrolled_profile(
    root: str, fetcher: HttpFetcher, browsers: BrowserPool, scope: Scope, report: SourceReport
) -> list[DiscoveredLink]:
    """Story links of a Medium profile scrolled to its end in Chromium: those under the
    profile, or medium.com story URLs (``…/slug-<hex id>``)."""
    from llm_twin.application.crawlers.discovery.scrolled import scrolled_links

    try:
        urls = scrolled_links(root, fetcher, browsers)
    except CrawlError as error:  # the feed still gave the recent stories
        logger.warning("could not scroll the profile {}: {}", root, error)
        report.skip(f"scroll_{error.reason}")
        return []
    found = []
    for url in urls:
        host = (urlsplit(url).hostname or "").removeprefix("www.")
        story = scope.contains(url) or (
            (host == "medium.com" or host.endswith(".medium.com"))
            and re.search(r"-[0-9a-f]{8,12}$", urlsplit(url).path) is not None
        )
        reason = non_article_reason(url) if story else "other_site"
        if reason:
            report.skip(reason)
        else:
            found.append(DiscoveredLink(url=url))
    report.listings_read += 1
    return found


def _from_listing(listing: platforms.Listing, report: SourceReport) -> list[DiscoveredLink]:
    report.listings_read += listing.pages
    for reason, count in listing.skipped.items():
        report.skip(reason, count)
    return [DiscoveredLink(url=url, published=date) for url, date in listing.links]


def _from_sitemaps(
    fetcher: HttpFetcher, scope: Scope, report: SourceReport
) -> list[DiscoveredLink]:
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(scope.root))
    candidates = []
    try:
        candidates += fetcher.robots_sitemaps(scope.root)
    except CrawlError as error:
        logger.debug("robots.txt of {} unreadable: {}", origin, error)
    candidates += [
        urljoin(scope.root, "sitemap.xml"),
        urljoin(scope.root, "sitemap_index.xml"),
        f"{origin}/sitemap.xml",
    ]
    entries, read = read_sitemaps(fetcher.get, list(dict.fromkeys(candidates)))
    report.listings_read += len(read)
    found = []
    for entry in entries:
        if not scope.contains(entry.url):
            continue  # another section of the site: not part of this source, not a skip
        reason = non_article_reason(entry.url)
        if reason:
            report.skip(reason)
        else:
            found.append(DiscoveredLink(url=entry.url, published=_day(entry.lastmod)))
    return found


def _from_feeds(
    fetcher: HttpFetcher, home: Page, scope: Scope, report: SourceReport
) -> list[DiscoveredLink]:
    candidates = feeds.feed_links_in_html(home.content, home.url)
    medium = platforms.medium_feed_url(scope.root)
    if medium:
        candidates.append(medium)
    candidates += [urljoin(scope.root, path) for path in feeds.COMMON_FEED_PATHS]
    for url in dict.fromkeys(candidates):
        try:
            entries = feeds.parse_feed(fetcher.get(url).content)
        except CrawlError as error:
            logger.debug("no feed at {}: {}", url, error)
            continue
        if not entries:
            continue
        report.listings_read += 1
        found = []
        for entry in entries:
            host = (urlsplit(entry.url).hostname or "").removeprefix("www.")
            same_site = scope.contains(entry.url) or (
                medium is not None and (host == "medium.com" or host.endswith(".medium.com"))
            )
            reason = None if same_site else "other_site"
            reason = reason or non_article_reason(entry.url)
            if reason:
                report.skip(reason)
            else:
                found.append(
                    DiscoveredLink(url=entry.url, published=entry.published, tags=list(entry.tags))
                )
        return found
    return []


def _select(
    found: list[DiscoveredLink],
    root: str,
    options: DiscoveryOptions,
    known_keys: set[str] | frozenset[str],
    report: SourceReport,
) -> list[DiscoveredLink]:
    """One link per article (first seen; dates and tags merged), stored ones dropped, newest
    first, at most ``max_pages``."""
    unique: dict[str, DiscoveredLink] = {}
    for item in found:
        try:
            url = clean_link(item.url)
        except CrawlError:
            report.skip("invalid_link")
            continue
        key = link_key(url)
        if key in unique:
            kept = unique[key]
            kept.published = kept.published or item.published
            kept.tags = kept.tags or item.tags
            continue
        unique[key] = item.model_copy(update={"url": url, "source": root})
    report.discovered = len(unique)
    new = [item for key, item in unique.items() if key not in known_keys]
    report.already_stored = len(unique) - len(new)
    new.sort(key=lambda item: item.published or "", reverse=True)  # stable: undated keep order
    report.over_budget = max(0, len(new) - options.max_pages)
    kept = new[: options.max_pages]
    report.new = len(kept)
    return kept


def _day(value: str | None) -> str | None:
    """``YYYY-MM-DD`` of an ISO 8601 date or timestamp, else ``None``."""
    if value and len(value) >= 10 and value[4] == "-" and value[7] == "-":
        return value[:10]
    return None
