"""Crawlers: turn a user's links (articles, posts, repositories) into warehouse documents.

Entry points: :func:`build_dispatcher` (crawler per link) and :func:`crawl_links` (a batch of
links with bounded concurrency and per-link status). Modules import their heavy libraries
(selenium, trafilatura, requests) only when a crawler runs.
"""

from llm_twin.application.crawlers.base import Author, Crawler, CrawlError
from llm_twin.application.crawlers.batch import CrawlBatch, LinkReport, crawl_links
from llm_twin.application.crawlers.dispatcher import CrawlerDispatcher, build_dispatcher
from llm_twin.application.crawlers.extraction import ExtractedArticle, extract_article

__all__ = [
    "Author",
    "CrawlBatch",
    "CrawlError",
    "Crawler",
    "CrawlerDispatcher",
    "ExtractedArticle",
    "LinkReport",
    "build_dispatcher",
    "crawl_links",
    "extract_article",
]
