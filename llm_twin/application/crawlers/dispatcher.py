"""Pick the crawler for a link: registered URL patterns first, the custom-article crawler as the
fallback for any other http(s) page.

Adding a platform is one crawler class plus one :meth:`CrawlerDispatcher.register` line in
:func:`build_dispatcher`.
"""

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from llm_twin.application.crawlers.base import Crawler, CrawlError
from llm_twin.application.crawlers.browser import BrowserPool
from llm_twin.application.crawlers.custom_article import CustomArticleCrawler
from llm_twin.application.crawlers.github import GithubCrawler
from llm_twin.application.crawlers.http import HttpFetcher
from llm_twin.application.crawlers.linkedin import LinkedInCrawler
from llm_twin.application.crawlers.links import normalize_link
from llm_twin.application.crawlers.medium import MediumCrawler
from llm_twin.application.crawlers.politeness import HostThrottle
from llm_twin.settings import Settings


@dataclass(frozen=True)
class Route:
    """Where a link goes: the crawler and the platform name its documents get."""

    crawler: Crawler
    platform: str


@dataclass
class CrawlerDispatcher:
    """Routes links to crawlers.

    Args:
        fallback: Crawler for http(s) links no pattern matches.
        browsers: The browser pool the Selenium crawlers share (closed by :meth:`close`).
    """

    fallback: CustomArticleCrawler
    browsers: BrowserPool | None = None
    _routes: list[tuple[re.Pattern[str], str, Crawler]] = field(default_factory=list)
    _overrides: list[tuple[str, str]] = field(default_factory=list)

    def register(self, pattern: str, platform: str, crawler: Crawler) -> None:
        """Send links matching the regex ``pattern`` (searched in the normalised URL) to
        ``crawler``, recording ``platform`` on their documents."""
        self._routes.append((re.compile(pattern, re.IGNORECASE), platform, crawler))

    @property
    def platforms(self) -> list[str]:
        """Registered platform names (usable in :meth:`override`)."""
        return [platform for _, platform, _ in self._routes]

    def override(self, prefix: str, platform: str) -> None:
        """Send links starting with ``prefix`` to the crawler registered for ``platform``
        (e.g. a Medium publication on its own domain, or the offline demo site).

        Raises:
            ValueError: ``platform`` is not registered.
        """
        if platform not in self.platforms and platform != "custom":
            known = ", ".join([*self.platforms, "custom"])
            raise ValueError(f"unknown platform {platform!r} for {prefix!r} (known: {known})")
        self._overrides.append((normalize_link(prefix), platform))

    def route(self, link: str) -> Route:
        """The crawler and platform for ``link`` (already normalised).

        Raises:
            CrawlError: ``unsupported_scheme`` for a git:// link no git crawler takes.
        """
        for prefix, platform in self._overrides:
            if link.startswith(prefix):
                if platform == "custom":
                    return Route(self.fallback, self.fallback.platform_for(link))
                for _, name, crawler in self._routes:
                    if name == platform:
                        return Route(crawler, platform)
        for pattern, platform, crawler in self._routes:
            if pattern.search(link):
                return Route(crawler, platform)
        if urlsplit(link).scheme not in {"http", "https"}:
            raise CrawlError("unsupported_scheme", f"no crawler handles {link}")
        return Route(self.fallback, self.fallback.platform_for(link))

    def close(self) -> None:
        """Quit the browsers started while crawling."""
        if self.browsers is not None:
            self.browsers.close()

    def __enter__(self) -> "CrawlerDispatcher":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def build_dispatcher(settings: Settings, throttle: HostThrottle | None = None) -> CrawlerDispatcher:
    """The project's crawlers, wired to one HTTP fetcher and one browser pool.

    Args:
        settings: Crawl settings.
        throttle: Per-host politeness of the fetcher (default: see :class:`HttpFetcher`).
    """
    fetcher = HttpFetcher(settings, throttle)
    browsers = BrowserPool(settings)
    dispatcher = CrawlerDispatcher(fallback=CustomArticleCrawler(fetcher), browsers=browsers)
    medium = MediumCrawler(settings, fetcher, browsers)
    dispatcher.register(r"^https?://([a-z0-9-]+\.)?medium\.com/", "medium", medium)
    dispatcher.register(
        r"^https?://[a-z0-9-]+\.substack\.com/",
        "substack",
        CustomArticleCrawler(fetcher, "substack"),
    )
    dispatcher.register(
        r"^https?://([a-z]+\.)?linkedin\.com/in/", "linkedin", LinkedInCrawler(settings, browsers)
    )
    github = GithubCrawler(settings)
    dispatcher.register(r"^https?://(www\.)?github\.com/[^/]+/[^/]+", "github", github)
    dispatcher.register(r"^git://|\.git/?$", "git", github)
    return dispatcher
