"""The URL a page declares as its own (``<link rel="canonical">``), used as the document's link
when it is on the same site, so one article reached by two URLs is stored once."""

from urllib.parse import urljoin, urlsplit

from llm_twin.application.crawlers.base import CrawlError
from llm_twin.application.crawlers.links import normalize_link


def declared_canonical(html: str | bytes, page_url: str) -> str | None:
    """The absolute ``<link rel="canonical" href>`` of ``html`` (normalised), else ``None``."""
    import lxml.html

    try:
        document = lxml.html.fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return None
    for link in document.iter("link"):
        if "canonical" in (link.get("rel") or "").lower().split() and link.get("href"):
            try:
                return normalize_link(urljoin(page_url, link.get("href").strip()))
            except CrawlError:
                return None
    return None


def same_site_canonical(html: str | bytes, link: str, page_url: str) -> str:
    """The link to store ``link``'s page under: its declared canonical URL when that is on the
    same host (a syndicated copy pointing to another site keeps its own link, see
    :mod:`llm_twin.application.crawlers.crossposts`), else ``link``."""
    canonical = declared_canonical(html, page_url)
    if canonical is None:
        return link
    host = (urlsplit(link).netloc or "").lower().removeprefix("www.")
    if (urlsplit(canonical).netloc or "").lower().removeprefix("www.") != host:
        return link
    return canonical
