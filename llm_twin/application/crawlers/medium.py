"""Medium stories: rendered by JavaScript, so read with headless Chromium.

Only the story's ``<article>`` element is extracted (never the page's whole text): its HTML
goes through the same extraction as static articles, minus the byline and buttons.
"""

import datetime as dt
import html
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from llm_twin.application.crawlers.base import Author, Crawler, CrawlError
from llm_twin.application.crawlers.browser import BrowserPool, browser_errors, wait_for_element
from llm_twin.application.crawlers.custom_article import article_document
from llm_twin.application.crawlers.extraction import ExtractedArticle, extract_article
from llm_twin.application.crawlers.http import HttpFetcher
from llm_twin.application.crawlers.links import check_host_allowed
from llm_twin.application.crawlers.tags import page_tags
from llm_twin.domain.documents import ArticleDocument
from llm_twin.domain.types import DataCategory
from llm_twin.settings import Settings

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver


@dataclass(frozen=True)
class MediumSelectors:
    """Medium's markup, in one place: a markup change is a one-line fix here."""

    article: str = "article"
    title: str = "h1.pw-post-title, article h1"
    subtitle: str = "h2.pw-subtitle-paragraph, .pw-subtitle-paragraph"
    author: str = "[data-testid='authorName']"
    published: str = "[data-testid='storyPublishDate']"
    #: Removed from the article before its text is extracted (XPath, for trafilatura).
    prune_xpath: tuple[str, ...] = (
        "//button",
        "//*[@role='button']",
        "//*[contains(@class, 'pw-post-title')]",
        "//*[contains(@class, 'pw-subtitle-paragraph')]",
        "//*[contains(@class, 'pw-author')]",
        "//*[contains(@class, 'pw-multi-vote-count')]",
        "//*[@data-testid='authorName' or @data-testid='storyPublishDate'"
        " or @data-testid='storyReadTime']",
    )


SELECTORS = MediumSelectors()
#: Medium shows dates like "Feb 2, 2024" (or "Feb 2" for the current year).
_DATE_FORMATS = ("%b %d, %Y", "%B %d, %Y")


class MediumCrawler(Crawler):
    """Reads a Medium story in headless Chromium.

    Args:
        settings: Crawl settings (timeouts, robots, network policy).
        fetcher: Used for the ``robots.txt`` check.
        browsers: The per-worker browsers.
    """

    platform: ClassVar[str] = "medium"
    category: ClassVar[DataCategory] = DataCategory.ARTICLES

    def __init__(self, settings: Settings, fetcher: HttpFetcher, browsers: BrowserPool) -> None:
        self.settings = settings
        self.fetcher = fetcher
        self.browsers = browsers

    def crawl(self, link: str, author: Author) -> list[ArticleDocument]:
        from selenium.webdriver.common.by import By

        check_host_allowed(link, self.settings.crawl.allow_private_networks)
        if self.settings.crawl.respect_robots:
            self.fetcher.ensure_allowed_by_robots(link)
        browser = self.browsers.get()
        driver = browser.driver
        timeout = self.settings.crawl.timeout_s
        with browser_errors(link, f"no <article> in {link} after {timeout}s", browser):
            browser.open(link)
            wait_for_element(driver, SELECTORS.article, timeout)
            # Medium lazy-loads the end of long stories: scroll once to the bottom.
            driver.execute_script("window.scrollTo(0, document.body.scrollHeight);")
            article_html = driver.find_element(By.CSS_SELECTOR, SELECTORS.article).get_attribute(
                "outerHTML"
            )
            fields = {
                name: _first_text(driver, getattr(SELECTORS, name))
                for name in ("title", "subtitle", "author", "published")
            }
            tags = page_tags(driver.page_source)
        browser.check_egress(link)  # what the page requested while it rendered
        title = html.escape(fields["title"] or "")
        page = f"<html><head><title>{title}</title></head><body>{article_html}</body></html>"
        extracted = extract_article(page, url=link, prune_xpath=list(SELECTORS.prune_xpath))
        if extracted is None:
            raise CrawlError("empty_extraction", f"the story element of {link} has no text")
        article = ExtractedArticle(
            title=fields["title"] or extracted.title,
            subtitle=fields["subtitle"],
            text=extracted.text,
            author=fields["author"],
            published=_parse_date(fields["published"]),
            sitename="Medium",
            tags=tuple(tags),
        )
        return [article_document(article, link, self.platform, author)]


def _first_text(driver: "WebDriver", selector: str) -> str | None:
    from selenium.webdriver.common.by import By

    elements = driver.find_elements(By.CSS_SELECTOR, selector)
    text = " ".join(elements[0].text.split()) if elements else ""
    return text or None


def _parse_date(text: str | None) -> str | None:
    if not text:
        return None
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    return text
