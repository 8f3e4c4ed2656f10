"""Sitemaps: ``<urlset>`` and nested ``<sitemapindex>`` files, plain or gzip-compressed.

A small reader on lxml (already installed with trafilatura) rather than a sitemap library: every
fetch must go through the crawler's :class:`HttpFetcher` (robots rules, private-network policy,
retries, politeness), which libraries that fetch for themselves bypass. Entities and network
access are disabled in the XML parser.
"""

import gzip
import io
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from loguru import logger

from llm_twin.application.crawlers.base import CrawlError
from llm_twin.application.crawlers.http import MAX_PAGE_BYTES, Page

#: At most this many sitemap files are read per source (an index of indexes can be huge).
MAX_SITEMAP_FILES = 50


@dataclass(frozen=True)
class SitemapEntry:
    """One ``<url>`` of a sitemap.

    Attributes:
        url: Its ``<loc>``.
        lastmod: Its ``<lastmod>`` as written (ISO 8601), when present.
    """

    url: str
    lastmod: str | None = None


def parse_sitemap(content: bytes) -> tuple[list[SitemapEntry], list[str]]:
    """The page entries and the nested sitemap URLs of one sitemap file (gzip or not).

    Raises:
        CrawlError: ``not_sitemap`` when the content is neither a ``urlset`` nor a
            ``sitemapindex`` document.
    """
    from lxml import etree

    if content[:2] == b"\x1f\x8b":
        try:
            content = _gunzip(content)
        except (OSError, EOFError, zlib.error) as error:
            raise CrawlError("not_sitemap", f"broken gzip sitemap: {error}") from None
    parser = etree.XMLParser(resolve_entities=False, no_network=True, recover=True, huge_tree=False)
    try:
        root = etree.fromstring(content.strip(), parser=parser)
    except etree.XMLSyntaxError as error:
        raise CrawlError("not_sitemap", f"not XML: {error}") from None
    if root is None:
        raise CrawlError("not_sitemap", "empty document")
    kind = etree.QName(root).localname
    if kind not in {"urlset", "sitemapindex"}:
        raise CrawlError("not_sitemap", f"<{kind}> is not a sitemap")
    entries, nested = [], []
    for item in root:
        if not isinstance(item.tag, str):
            continue
        fields = {
            etree.QName(child).localname: (child.text or "").strip()
            for child in item
            if isinstance(child.tag, str)
        }
        location = fields.get("loc")
        if not location:
            continue
        if kind == "sitemapindex":
            nested.append(location)
        else:
            entries.append(SitemapEntry(location, fields.get("lastmod") or None))
    return entries, nested


def read_sitemaps(
    fetch: Callable[[str], Page], urls: list[str], max_files: int = MAX_SITEMAP_FILES
) -> tuple[list[SitemapEntry], list[str]]:
    """Every page entry reachable from the sitemap ``urls`` (indexes followed breadth-first).

    Args:
        fetch: Fetches one URL (the crawler's fetcher: robots, policy, retries).
        urls: Sitemap URLs to start from; missing or broken ones are skipped.
        max_files: Sitemap files read at most.

    Returns:
        The entries (first occurrence of each URL kept) and the sitemap files read.
    """
    queue, seen_files, read, entries, seen_urls = list(urls), set(), [], [], set()
    while queue and len(read) < max_files:
        url = queue.pop(0)
        if url in seen_files:
            continue
        seen_files.add(url)
        try:
            found, nested = parse_sitemap(fetch(url).content)
        except CrawlError as error:
            logger.debug("no sitemap at {}: {}", url, error)
            continue
        read.append(url)
        queue.extend(nested)
        for entry in found:
            if entry.url not in seen_urls:
                seen_urls.add(entry.url)
                entries.append(entry)
    return entries, read


def _gunzip(content: bytes) -> bytes:
    with gzip.GzipFile(fileobj=io.BytesIO(content)) as stream:
        data = stream.read(MAX_PAGE_BYTES + 1)
    if len(data) > MAX_PAGE_BYTES:
        raise OSError(f"uncompressed sitemap larger than {MAX_PAGE_BYTES} bytes")
    return data
