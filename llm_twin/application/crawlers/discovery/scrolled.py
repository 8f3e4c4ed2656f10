"""Profile pages that list their stories only as the reader scrolls (Medium): open the page in
headless Chromium, scroll until no more links appear, collect the story links."""

from llm_twin.application.crawlers.base import CrawlError
from llm_twin.application.crawlers.browser import BrowserPool
from llm_twin.application.crawlers.http import HttpFetcher
from llm_twin.application.crawlers.links import check_host_allowed

#: Scrolls at most per profile (each may load a batch of stories).
MAX_SCROLLS = 30
#: How long to wait for more links after a scroll before deciding the list has ended.
SCROLL_WAIT_S = 2.0
#: Where a profile lists its stories (site chrome left out).
LINK_SELECTOR = "main a[href], article a[href]"


def scrolled_links(
    url: str, fetcher: HttpFetcher, browsers: BrowserPool, max_scrolls: int = MAX_SCROLLS
) -> list[str]:
    """The links of ``url``'s main content after scrolling to its end (robots rules and the
    network policy checked first, then by the browser's egress proxy on every request the page
    makes).

    Raises:
        CrawlError: ``robots_disallowed``, ``private_network``, ``browser_error``.
    """
    from selenium.common.exceptions import TimeoutException, WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    settings = fetcher.settings
    check_host_allowed(url, settings.crawl.allow_private_networks)
    if settings.crawl.respect_robots:
        fetcher.ensure_allowed_by_robots(url)
    browser = browsers.get()
    driver = browser.driver
    try:
        browser.open(url)
        seen = len(driver.find_elements(By.CSS_SELECTOR, LINK_SELECTOR))
        for _ in range(max_scrolls):
            driver.execute_script("window.scrollTo(0, document.body.scrollHeight);")
            try:
                WebDriverWait(driver, min(SCROLL_WAIT_S, settings.crawl.timeout_s)).until(
                    lambda d, n=seen: len(d.find_elements(By.CSS_SELECTOR, LINK_SELECTOR)) > n
                )
            except TimeoutException:
                break
            seen = len(driver.find_elements(By.CSS_SELECTOR, LINK_SELECTOR))
        hrefs = [
            a.get_attribute("href") for a in driver.find_elements(By.CSS_SELECTOR, LINK_SELECTOR)
        ]
    except WebDriverException as error:
        browser.check_egress(url)
        raise CrawlError("browser_error", f"Chromium failed on {url}: {error.msg}") from None
    browser.check_egress(url)
    return list(dict.fromkeys(href.split("#", 1)[0] for href in hrefs if href))
