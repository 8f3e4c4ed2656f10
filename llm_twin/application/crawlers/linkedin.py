"""LinkedIn posts: log in with the configured account, scroll the activity feed, keep each
post's text, date and link.

LinkedIn renders everything with JavaScript behind a login, so this runs in headless Chromium.
A profile link (``https://www.linkedin.com/in/<name>/``) is read from its activity feed
(``…/recent-activity/all/``); each post becomes one :class:`PostDocument` stored under its own
link, so the feed is re-read on every run (it gains new posts) while known posts stay unchanged.
"""

import datetime as dt
import re
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import urlsplit

from loguru import logger

from llm_twin.application.crawlers.base import Author, Crawler, CrawlError, utc_now
from llm_twin.application.crawlers.browser import (
    Browser,
    BrowserPool,
    browser_errors,
    wait_for_element,
)
from llm_twin.application.crawlers.links import check_host_allowed
from llm_twin.domain.documents import PostDocument
from llm_twin.domain.types import DataCategory
from llm_twin.settings import Settings


@dataclass(frozen=True)
class LinkedInSelectors:
    """LinkedIn's markup and paths, in one place: a markup change is a one-line fix here."""

    login_path: str = "/login"
    username_input: str = "#username"
    password_input: str = "#password"
    submit_button: str = "button[type='submit']"
    #: URL fragments that mean "still not logged in" after submitting the form.
    login_failed_markers: tuple[str, ...] = ("/login", "/checkpoint/", "/uas/login")
    activity_path: str = "/in/{profile}/recent-activity/all/"
    post: str = "div.feed-shared-update-v2[data-urn]"
    post_urn_attribute: str = "data-urn"
    post_text: str = ".update-components-text, .feed-shared-inline-show-more-text"
    post_image: str = ".update-components-image img"
    post_link: str = "/feed/update/{urn}/"


SELECTORS = LinkedInSelectors()
#: How long to wait for more posts after a scroll before deciding the feed has ended.
SCROLL_WAIT_S = 2.0
_PROFILE = re.compile(r"^/in/([^/]+)")
_ACTIVITY_ID = re.compile(r"urn:li:(?:activity|share|ugcPost):(\d+)")


class LinkedInCrawler(Crawler):
    """Collects a LinkedIn member's posts.

    Args:
        settings: ``LINKEDIN_USERNAME``/``LINKEDIN_PASSWORD``, ``LINKEDIN_MAX_SCROLLS``,
            timeouts and the network policy.
        browsers: The per-worker browsers (each logs in once).

    ``robots.txt`` is not consulted: this reads the logged-in account's own feed as that user,
    in a browser, rather than crawling public pages.
    """

    platform: ClassVar[str] = "linkedin"
    category: ClassVar[DataCategory] = DataCategory.POSTS
    listing: ClassVar[bool] = True

    def __init__(self, settings: Settings, browsers: BrowserPool) -> None:
        self.settings = settings
        self.browsers = browsers

    def crawl(self, link: str, author: Author) -> list[PostDocument]:
        username, password = self._credentials()
        parts = urlsplit(link)
        match = _PROFILE.match(parts.path)
        if not match:
            raise CrawlError(
                "invalid_link",
                f"{link} is not a LinkedIn profile link (expected …/in/<name>/)",
            )
        origin = f"{parts.scheme}://{parts.netloc}"
        check_host_allowed(link, self.settings.crawl.allow_private_networks)
        browser = self.browsers.get()
        timeout_message = f"LinkedIn page {link} did not load in {self.settings.crawl.timeout_s}s"
        with browser_errors(link, timeout_message, browser):
            self._login(browser, origin, username, password)
            posts = self._read_feed(browser, origin, match.group(1))
        browser.check_egress(link)  # what the feed requested while it was scrolled
        if not posts:
            raise CrawlError("empty_extraction", f"no posts found in the activity feed of {link}")
        crawled_at = utc_now()
        return [
            PostDocument(
                content={"Content": post["text"], "Published": post["published"]},
                image=post["image"],
                platform=self.platform,
                link=post["link"],
                author_id=author.id,
                author_full_name=author.full_name,
                crawled_at=crawled_at,
            )
            for post in posts
        ]

    def _credentials(self) -> tuple[str, str]:
        username = (self.settings.crawl.linkedin_username or "").strip()
        password = (
            self.settings.crawl.linkedin_password.get_secret_value()
            if self.settings.crawl.linkedin_password
            else ""
        )
        if not username or not password:
            raise CrawlError(
                "missing_credentials",
                "LinkedIn links need LINKEDIN_USERNAME and LINKEDIN_PASSWORD (in .env or the "
                "environment)",
            )
        return username, password

    def _login(self, browser: Browser, origin: str, username: str, password: str) -> None:
        from selenium.common.exceptions import TimeoutException
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        state_key = f"linkedin_logged_in:{origin}"
        if browser.state.get(state_key):
            return
        driver = browser.driver
        timeout = self.settings.crawl.timeout_s
        browser.open(origin + SELECTORS.login_path)
        wait_for_element(driver, SELECTORS.username_input, timeout)
        driver.find_element(By.CSS_SELECTOR, SELECTORS.username_input).send_keys(username)
        driver.find_element(By.CSS_SELECTOR, SELECTORS.password_input).send_keys(password)
        login_url = driver.current_url
        driver.find_element(By.CSS_SELECTOR, SELECTORS.submit_button).click()
        failure = CrawlError(
            "login_failed",
            # Never echo the credentials: only say which settings to check.
            "LinkedIn login failed (check LINKEDIN_USERNAME/LINKEDIN_PASSWORD; a security "
            "check may need one manual login in a browser)",
        )
        try:
            # The form posts and the site redirects: wait for the URL to change, then see
            # whether we landed inside (feed) or back on a login/checkpoint page.
            WebDriverWait(driver, timeout).until(lambda d: d.current_url != login_url)
        except TimeoutException:
            raise failure from None
        browser.check_egress(origin + SELECTORS.login_path)  # where the form sent us
        landed = urlsplit(driver.current_url).path
        if any(marker in landed for marker in SELECTORS.login_failed_markers):
            raise failure
        browser.state[state_key] = True
        logger.debug("logged in to {}", origin)

    def _read_feed(
        self, browser: Browser, origin: str, profile: str
    ) -> list[dict[str, str | None]]:
        from selenium.common.exceptions import TimeoutException
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        driver = browser.driver
        browser.open(origin + SELECTORS.activity_path.format(profile=profile))
        wait_for_element(driver, SELECTORS.post, self.settings.crawl.timeout_s)
        seen = len(driver.find_elements(By.CSS_SELECTOR, SELECTORS.post))
        for _ in range(self.settings.crawl.linkedin_max_scrolls):
            driver.execute_script("window.scrollTo(0, document.body.scrollHeight);")
            try:
                # More posts arrive asynchronously after a scroll; give them a moment.
                WebDriverWait(driver, min(SCROLL_WAIT_S, self.settings.crawl.timeout_s)).until(
                    lambda d, n=seen: len(d.find_elements(By.CSS_SELECTOR, SELECTORS.post)) > n
                )
            except TimeoutException:
                break
            seen = len(driver.find_elements(By.CSS_SELECTOR, SELECTORS.post))
        posts, links = [], set()
        for element in driver.find_elements(By.CSS_SELECTOR, SELECTORS.post):
            urn = element.get_attribute(SELECTORS.post_urn_attribute) or ""
            texts = element.find_elements(By.CSS_SELECTOR, SELECTORS.post_text)
            text = "\n".join(t.text for t in texts).strip() if texts else ""
            if not urn or not text:
                continue
            link = origin + SELECTORS.post_link.format(urn=urn)
            if link in links:
                continue
            links.add(link)
            images = element.find_elements(By.CSS_SELECTOR, SELECTORS.post_image)
            posts.append(
                {
                    "link": link,
                    "text": text,
                    "published": activity_date(urn),
                    "image": (images[0].get_attribute("src") or None) if images else None,
                }
            )
        return posts


def activity_date(urn: str) -> str | None:
    """The publication time encoded in a LinkedIn activity id (its top 41 bits are the Unix
    time in milliseconds), as ISO 8601 UTC; ``None`` when ``urn`` carries no such id."""
    match = _ACTIVITY_ID.search(urn)
    if not match:
        return None
    milliseconds = int(match.group(1)) >> 22
    try:
        moment = dt.datetime.fromtimestamp(milliseconds / 1000, tz=dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None
    if not 2003 <= moment.year <= 2100:  # LinkedIn was founded in 2003: anything else is noise
        return None
    return moment.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"
