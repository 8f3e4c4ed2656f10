"""Headless Chromium for the JavaScript-rendered crawlers (Medium, LinkedIn).

The browser is the Debian ``chromium`` package driven by its ``chromedriver`` (paths from the
settings): nothing is downloaded at run time, so it works offline. :class:`BrowserPool` gives
each crawl worker thread its own browser, started on first use and reused for every link that
thread crawls, and quits them all at the end.

Every request a browser makes goes through its own :class:`EgressProxy`, which applies the
crawler's network policy to each one (redirects and sub-resources included) and connects to the
address it checked; :meth:`Browser.open` fails the link when the page made a refused request.
"""

import contextlib
import shutil
import tempfile
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from loguru import logger

from llm_twin.application.crawlers.base import CrawlError
from llm_twin.application.crawlers.egress_proxy import EgressProxy
from llm_twin.settings import Settings

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

#: Flags that work headless as root in containers (see FACTS.md); a fresh profile per browser.
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--window-size=1280,2000",
    # Every request goes through the egress proxy, loopback included (Chromium bypasses the
    # proxy for loopback unless told not to), and the browser resolves no name itself.
    "--proxy-bypass-list=<-loopback>",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
)
#: How many refused requests a crawl error lists.
SHOWN_REFUSALS = 3


def chromium_available(settings: Settings) -> str | None:
    """``None`` when Chromium and chromedriver are installed, else why not (for messages)."""
    for name, path in (
        ("CHROMIUM_BINARY", settings.crawl.chromium_binary),
        ("CHROMEDRIVER_BINARY", settings.crawl.chromedriver_binary),
    ):
        if not path.is_file():
            return (
                f"{name}={path} does not exist: install Chromium "
                "(apt-get install chromium chromium-driver) or set the setting"
            )
    return None


@contextlib.contextmanager
def browser_errors(
    link: str, timeout_message: str, browser: "Browser | None" = None
) -> Iterator[None]:
    """Turn Selenium's errors inside the block into crawl errors: a timeout into ``timeout``
    with ``timeout_message``, any other driver error into ``browser_error`` naming ``link``.
    When ``browser`` is given and its page made requests the network policy refused, the error
    is ``private_network`` instead (a page waiting for a refused request never finishes)."""
    from selenium.common.exceptions import TimeoutException, WebDriverException

    try:
        yield
    except WebDriverException as error:
        if browser is not None:
            browser.check_egress(link)
        if isinstance(error, TimeoutException):
            raise CrawlError("timeout", timeout_message) from None
        raise CrawlError("browser_error", f"Chromium failed on {link}: {error.msg}") from None


def wait_for_element(driver: "WebDriver", selector: str, timeout: float) -> None:
    """Wait until the page has an element matching the CSS ``selector``.

    Raises:
        selenium.common.exceptions.TimeoutException: none appeared within ``timeout`` seconds.
    """
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, selector))
    )


class Browser:
    """One headless Chromium with its own temporary profile.

    Args:
        settings: ``CHROMIUM_BINARY``, ``CHROMEDRIVER_BINARY``, ``CRAWL_USER_AGENT`` and
            ``CRAWL_TIMEOUT_S`` (page-load timeout).
    """

    def __init__(self, settings: Settings) -> None:
        from selenium import webdriver
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.chrome.service import Service

        problem = chromium_available(settings)
        if problem:
            raise CrawlError("browser_error", problem)
        #: The browser's only way out (the network policy on every request it makes).
        self.egress = EgressProxy(settings.crawl.allow_private_networks, settings.crawl.timeout_s)
        self.profile_dir = tempfile.mkdtemp(prefix="llm-twin-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = str(settings.crawl.chromium_binary)
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--proxy-server={self.egress.url}")
        options.add_argument(f"--user-data-dir={self.profile_dir}")
        options.add_argument(f"--user-agent={settings.crawl.user_agent}")
        service = Service(executable_path=str(settings.crawl.chromedriver_binary))
        try:
            self.driver: WebDriver = webdriver.Chrome(options=options, service=service)
        except WebDriverException as error:
            self.egress.close()
            shutil.rmtree(self.profile_dir, ignore_errors=True)
            raise CrawlError("browser_error", f"Chromium did not start: {error.msg}") from None
        self.driver.set_page_load_timeout(settings.crawl.timeout_s)
        #: Free-form per-browser state crawlers keep (e.g. which sites are logged in).
        self.state: dict[str, Any] = {}
        logger.debug("started Chromium {}", self.version)

    @property
    def version(self) -> str:
        return str(self.driver.capabilities.get("browserVersion", "unknown"))

    def open(self, url: str) -> None:
        """Load ``url`` (redirects followed by the browser, each hop through the policy).

        Raises:
            CrawlError: ``private_network`` when the page, a redirect or anything it loaded
                was refused by the network policy (see :meth:`check_egress`).
            selenium.common.exceptions.WebDriverException: the page did not load for another
                reason (see :func:`browser_errors`).
        """
        from selenium.common.exceptions import WebDriverException

        late = self.egress.take_refusals()
        if late:  # the previous page's late requests: blocked, not this link's doing
            logger.debug("{} earlier browser requests were refused", len(late))
        try:
            self.driver.get(url)
        except WebDriverException:
            self.check_egress(url)  # a refused navigation shows as a network error
            raise
        self.check_egress(url)

    def check_egress(self, link: str) -> None:
        """Fail ``link`` when its page made requests the network policy refused since it was
        opened (nothing reached those hosts: the proxy refused them before connecting).

        Raises:
            CrawlError: ``private_network`` naming the refused requests.
        """
        refused = self.egress.take_refusals()
        if refused:
            shown = ", ".join(refusal.url for refusal in refused[:SHOWN_REFUSALS])
            more = (
                f" and {len(refused) - SHOWN_REFUSALS} more"
                if len(refused) > SHOWN_REFUSALS
                else ""
            )
            raise CrawlError(
                "private_network",
                f"{link} made the browser request non-public addresses, refused: {shown}{more} "
                f"({refused[0].reason})",
            )

    def quit(self) -> None:
        try:
            self.driver.quit()
        finally:
            self.egress.close()
            shutil.rmtree(self.profile_dir, ignore_errors=True)


class BrowserPool:
    """One :class:`Browser` per thread, created lazily; :meth:`close` quits them all.

    Args:
        settings: Passed to each :class:`Browser`.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._local = threading.local()
        self._browsers: list[Browser] = []
        self._lock = threading.Lock()

    def get(self) -> Browser:
        """This thread's browser (started on first call)."""
        browser = getattr(self._local, "browser", None)
        if browser is None:
            browser = Browser(self.settings)
            self._local.browser = browser
            with self._lock:
                self._browsers.append(browser)
        return browser

    @property
    def started(self) -> int:
        """How many browsers were started."""
        return len(self._browsers)

    def close(self) -> None:
        with self._lock:
            browsers, self._browsers = self._browsers, []
        for browser in browsers:
            try:
                browser.quit()
            except Exception as error:  # one browser failing to quit must not leak the others
                logger.warning("Chromium did not quit cleanly: {}", error)
