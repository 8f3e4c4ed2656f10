"""A site's own archive/index pages: the article links they list, following their pagination
("Older posts", ``rel="next"``, ``/page/2/``, ``?page=2``)."""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from loguru import logger

from llm_twin.application.crawlers.base import CrawlError
from llm_twin.application.crawlers.discovery.urls import Scope, link_key, non_article_reason
from llm_twin.application.crawlers.http import Page

#: Links inside these elements are site chrome, not the listing.
CHROME_TAGS = ("nav", "header", "footer", "aside")
#: Conventional archive paths tried under a root whose own page lists nothing.
ARCHIVE_PATHS = ("archive", "archives", "posts", "blog")
_PAGINATION_PATH = re.compile(r"/page/\d+/?$|[?&](page|paged)=\d+")
_NEXT_TEXT = re.compile(
    r"^\s*(older|next|more)( posts| entries| articles| page)?\s*[»→›]*\s*$|^\s*[»→›]\s*$", re.I
)


@dataclass
class ArchiveResult:
    """What the listing pages gave.

    Attributes:
        links: Article links in the order found (first occurrence of each page).
        pages: Listing pages read.
        skipped: Links left out, by reason (``listing``, ``asset``, ``other_site``).
    """

    links: list[str] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)


def listing_links(html: str | bytes, base_url: str) -> tuple[list[str], list[str]]:
    """The content links of one listing page (site chrome left out) and its pagination links."""
    import lxml.html

    try:
        document = lxml.html.fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return [], []
    pagination: list[str] = []
    next_xpath = "//link[@rel='next'] | //a[contains(concat(' ', @rel, ' '), ' next ')]"
    for element in document.xpath(next_xpath):
        if element.get("href"):
            pagination.append(urljoin(base_url, element.get("href")))
    links: list[str] = []
    for anchor in document.iter("a"):
        href = (anchor.get("href") or "").strip()
        if not href or href.startswith(("#", "mailto:", "javascript:", "tel:")):
            continue
        url = urljoin(base_url, href).split("#", 1)[0]
        if _PAGINATION_PATH.search(url) or _NEXT_TEXT.match(anchor.text_content() or ""):
            pagination.append(url)
        elif next(anchor.iterancestors(*CHROME_TAGS), None) is None:
            links.append(url)
    return links, pagination


def read_archive(fetch: Callable[[str], Page], scope: Scope, max_pages: int) -> ArchiveResult:
    """Article links listed by the root page of ``scope`` and the listing pages it paginates
    to (breadth first, same site only); when the root lists nothing, its conventional archive
    paths are tried.

    Args:
        fetch: Fetches a page (the crawler's fetcher: robots, policy, politeness).
        scope: The site or section being discovered.
        max_pages: Listing pages read at most, the first page included
            (``CRAWL_MAX_LISTING_PAGES``).
    """
    result = ArchiveResult()
    queue = [scope.root]
    seen_pages = {link_key(scope.root)}
    seen_links: set[str] = set()
    tried_fallbacks = False
    while len(result.pages) < max_pages:
        if not queue:
            if result.links or tried_fallbacks:
                break
            tried_fallbacks = True
            queue = [urljoin(scope.root, path + "/") for path in ARCHIVE_PATHS]
            seen_pages.update(link_key(url) for url in queue)
            continue
        url = queue.pop(0)
        try:
            page = fetch(url)
        except CrawlError as error:
            logger.debug("listing page {} skipped: {}", url, error)
            continue
        result.pages.append(url)
        links, pagination = listing_links(page.content, page.url)
        for next_url in pagination:
            key = link_key(next_url)
            if key not in seen_pages and _same_site(next_url, scope):
                seen_pages.add(key)
                queue.append(next_url)
        for link in links:
            key = link_key(link)
            if key in seen_links or key in seen_pages:
                continue
            seen_links.add(key)
            reason = None if scope.contains(link) else "other_site"
            reason = reason or non_article_reason(link)
            if reason:
                result.skipped[reason] = result.skipped.get(reason, 0) + 1
            else:
                result.links.append(link)
    return result


def _same_site(url: str, scope: Scope) -> bool:
    parts = urlsplit(url)
    return parts.netloc.removeprefix("www.") == scope.host and parts.path.startswith(scope.prefix)
