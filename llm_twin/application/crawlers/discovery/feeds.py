"""RSS/Atom feeds: found through ``<link rel="alternate">`` or at the usual paths, read with
feedparser (the maintained reference parser: RSS 0.9x–2.0, Atom, RDF, broken feeds tolerated,
dates normalised)."""

import datetime as dt
from dataclasses import dataclass, field
from urllib.parse import urljoin

FEED_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/feed+json",
        "application/xml",
        "text/xml",
        "application/rdf+xml",
    }
)
#: Tried under a root URL when its page declares no feed.
COMMON_FEED_PATHS = ("feed", "feed.xml", "rss.xml", "atom.xml", "index.xml", "rss", "feed/")


@dataclass(frozen=True)
class FeedEntry:
    """One item of a feed.

    Attributes:
        url: The item's link.
        title: Its title ("" when none).
        published: Publication (or update) date as ``YYYY-MM-DD``, when the feed has one.
        tags: Its categories/tags.
    """

    url: str
    title: str = ""
    published: str | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)


def feed_links_in_html(html: str | bytes, base_url: str) -> list[str]:
    """Absolute URLs of the feeds a page declares with ``<link rel="alternate" type=…>``."""
    import lxml.html

    try:
        document = lxml.html.fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return []
    found: list[str] = []
    for link in document.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").lower().split(";")[0].strip()
        href = link.get("href")
        if "alternate" in rel and kind in FEED_TYPES and href:
            url = urljoin(base_url, href.strip())
            if url not in found:
                found.append(url)
    return found


def parse_feed(content: bytes) -> list[FeedEntry] | None:
    """The entries of a feed document; ``None`` when ``content`` is not a feed."""
    import feedparser

    parsed = feedparser.parse(content)
    if not parsed.entries and (parsed.bozo or not parsed.get("version")):
        return None
    entries = []
    for item in parsed.entries:
        link = item.get("link") or ""
        if not link:
            continue
        entries.append(
            FeedEntry(
                url=link,
                title=(item.get("title") or "").strip(),
                published=_date(item.get("published_parsed") or item.get("updated_parsed")),
                tags=tuple(
                    t.get("term", "").strip()
                    for t in item.get("tags") or []
                    if t.get("term", "").strip()
                ),
            )
        )
    return entries


def _date(parsed: object) -> str | None:
    if not parsed:
        return None
    try:
        return dt.date(*parsed[:3]).isoformat()  # type: ignore[index]
    except (TypeError, ValueError):
        return None
