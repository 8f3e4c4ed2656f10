"""Discovery: expand root URLs (a blog, a Substack, a Medium profile, a GitHub account) into
the links they stand for, before crawling. See :mod:`.discover` for the order of methods."""

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from llm_twin.application.crawlers.base import CrawlError
from llm_twin.application.crawlers.browser import BrowserPool
from llm_twin.application.crawlers.discovery.discover import (
    DiscoveredLink,
    DiscoveryOptions,
    SourceReport,
    discover,
    is_discovery_root,
)
from llm_twin.application.crawlers.discovery.urls import clean_link, link_key
from llm_twin.application.crawlers.http import HttpFetcher

if TYPE_CHECKING:  # batch.py imports discovery.urls: no import cycle at run time
    from llm_twin.application.crawlers.batch import CrawlBatch


@dataclass
class Expansion:
    """Links to crawl after discovery.

    Attributes:
        links: Links for the crawler, in order: the discovered links of each root in its place,
            other links as given.
        sources: One report per root URL.
        found: The discovered links by URL (dates and tags the listings gave).
    """

    links: list[str] = field(default_factory=list)
    sources: list[SourceReport] = field(default_factory=list)
    found: dict[str, DiscoveredLink] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """``sources_total``/``sources_failed``, ``links_discovered``,
        ``discovered_already_stored`` and ``discovered_over_budget``."""
        return {
            "sources_total": len(self.sources),
            "sources_failed": sum(1 for source in self.sources if source.error),
            "links_discovered": sum(source.discovered for source in self.sources),
            "discovered_already_stored": sum(source.already_stored for source in self.sources),
            "discovered_over_budget": sum(source.over_budget for source in self.sources),
        }


def expand_links(
    links: list[str],
    fetcher: HttpFetcher,
    options: DiscoveryOptions,
    known_links: set[str],
    always: bool = False,
    browsers: BrowserPool | None = None,
) -> Expansion:
    """Replace each root URL of ``links`` by the new links discovery finds under it.

    Args:
        links: Links as the user gave them.
        fetcher: The crawler's fetcher (so robots rules, policy and politeness apply).
        options: Budget, API locations, platform overrides.
        known_links: Links already in the warehouse (compared by :func:`link_key`, so a stored
            article reached through another URL form is not fetched again).
        always: Try discovery on every link, not only those that look like a root (a link
            under which nothing is listed is then crawled as a page).
        browsers: Headless Chromium for profiles that list stories as one scrolls (Medium).
    """
    known_keys = {link_key(link) for link in known_links}
    expansion = Expansion()
    seen: set[str] = set()
    roots: set[str] = set()

    def add(link: str) -> None:
        key = link_key(link)
        if key not in seen:
            seen.add(key)
            expansion.links.append(link)

    for link in links:
        try:
            normalized = clean_link(link)
        except CrawlError:
            expansion.links.append(link)  # the crawler reports the bad link
            continue
        if not (always or is_discovery_root(normalized, options)):
            add(link)
            continue
        if link_key(normalized) in roots:
            continue  # the same root listed twice
        roots.add(link_key(normalized))
        report, found = discover(normalized, fetcher, options, known_keys, browsers)
        expansion.sources.append(report)
        if report.error:
            add(normalized)  # crawled as a page: the crawl reports its failure per link
        for item in found:
            expansion.found.setdefault(item.url, item)
            add(item.url)
    return expansion


def apply_listing_metadata(batch: "CrawlBatch", expansion: Expansion) -> int:
    """Give crawled articles the publication date and tags their listing (feed, sitemap
    ``lastmod``, archive API) gave, where the page itself declared none; return how many
    documents gained something. Only text documents (with a ``Content`` field) are touched."""
    by_key = {link_key(url): item for url, item in expansion.found.items()}
    changed = 0
    for entry in batch.documents:
        document = entry["document"]
        content = document.get("content")
        item = by_key.get(link_key(str(document.get("link", ""))))
        if item is None or not isinstance(content, dict) or "Content" not in content:
            continue
        before = dict(content)
        if item.published and not content.get("Published"):
            content["Published"] = item.published
        if item.tags and not content.get("Tags"):
            content["Tags"] = list(item.tags)
        changed += content != before
    return changed


__all__ = [
    "DiscoveredLink",
    "DiscoveryOptions",
    "Expansion",
    "SourceReport",
    "apply_listing_metadata",
    "clean_link",
    "discover",
    "expand_links",
    "is_discovery_root",
    "link_key",
]
