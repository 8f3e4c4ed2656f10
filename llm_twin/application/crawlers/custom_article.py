"""Static HTML articles: Substack, personal blogs, any http(s) page (the fallback crawler)."""

from typing import ClassVar
from urllib.parse import urlsplit

from llm_twin.application.crawlers.base import Author, Crawler, CrawlError, utc_now
from llm_twin.application.crawlers.canonical import same_site_canonical
from llm_twin.application.crawlers.extraction import ExtractedArticle, extract_article
from llm_twin.application.crawlers.http import HttpFetcher
from llm_twin.domain.documents import ArticleDocument
from llm_twin.domain.types import DataCategory

HTML_TYPES = frozenset({"", "text/html", "application/xhtml+xml", "text/plain"})


class CustomArticleCrawler(Crawler):
    """Fetches a page over HTTP and keeps its main article (see :func:`extract_article`).

    Args:
        fetcher: The shared HTTP fetcher (timeouts, retries, robots.txt, network policy).
        platform: Platform name stored on documents; by default the page's host
            (``www.`` removed), e.g. ``janedoe.dev``.
    """

    platform: ClassVar[str] = "custom"
    category: ClassVar[DataCategory] = DataCategory.ARTICLES

    def __init__(self, fetcher: HttpFetcher, platform: str | None = None) -> None:
        self.fetcher = fetcher
        self._platform = platform

    def platform_for(self, link: str) -> str:
        """The platform recorded for ``link``."""
        if self._platform:
            return self._platform
        host = urlsplit(link).hostname or "custom"
        return host.removeprefix("www.")

    def crawl(self, link: str, author: Author) -> list[ArticleDocument]:
        page = self.fetcher.get(link)
        if page.content_type not in HTML_TYPES:
            raise CrawlError("not_html", f"{link} is {page.content_type}, not an HTML page")
        article = extract_article(page.content, url=page.url)
        if article is None:
            raise CrawlError("empty_extraction", f"no article text found in {link}")
        stored_link = same_site_canonical(page.content, link, page.url)
        return [article_document(article, stored_link, self.platform_for(link), author)]


def article_document(
    article: ExtractedArticle, link: str, platform: str, author: Author
) -> ArticleDocument:
    """The warehouse document of an extracted article.

    ``content`` keeps the reference project's keys (``Title``, ``Subtitle``, ``Content``) and
    adds ``Author``, ``Published`` and ``Tags`` (a list) when the page declares them.
    """
    content: dict[str, str | list[str] | None] = {
        "Title": article.title or None,
        "Subtitle": article.subtitle,
        "Content": article.text,
    }
    if article.author:
        content["Author"] = article.author
    if article.published:
        content["Published"] = article.published
    if article.tags:
        content["Tags"] = list(article.tags)
    return ArticleDocument(
        content=content,
        platform=platform,
        link=link,
        author_id=author.id,
        author_full_name=author.full_name,
        crawled_at=utc_now(),
    )
