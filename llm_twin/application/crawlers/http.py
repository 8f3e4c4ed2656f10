"""HTTP fetching for crawlers: timeouts, retries with backoff, a proper User-Agent, redirects
checked hop by hop against the network policy, and ``robots.txt``."""

import threading
import urllib.robotparser
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit, urlunsplit

from loguru import logger
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from llm_twin.application.crawlers.base import CrawlError
from llm_twin.application.crawlers.links import check_host_allowed
from llm_twin.application.crawlers.politeness import HostThrottle
from llm_twin.settings import Settings

if TYPE_CHECKING:
    import requests
    import requests.adapters

MAX_REDIRECTS = 5
#: Pages larger than this are refused (a blog article is far smaller).
MAX_PAGE_BYTES = 15_000_000


@dataclass(frozen=True)
class Page:
    """A fetched page.

    Attributes:
        url: The final URL after redirects.
        status: HTTP status code.
        content: The raw body.
        content_type: The ``Content-Type`` header (lower-cased, without parameters).
        encoding: The charset requests determined, used by :attr:`text`.
        next_url: The ``rel="next"`` target of its ``Link`` header (API pagination), if any.
    """

    url: str
    status: int
    content: bytes
    content_type: str
    encoding: str | None
    next_url: str | None = None

    @property
    def text(self) -> str:
        return self.content.decode(self.encoding or "utf-8", errors="replace")


class _Retryable(Exception):
    """A transient failure worth another attempt (timeout, connection error, 429, 5xx)."""

    def __init__(self, error: CrawlError) -> None:
        super().__init__(str(error))
        self.error = error


class HttpFetcher:
    """Fetches pages politely; safe to share between threads (one session per thread).

    Args:
        settings: Crawl settings (``CRAWL_TIMEOUT_S``, ``CRAWL_RETRIES``, ``CRAWL_USER_AGENT``,
            ``CRAWL_RESPECT_ROBOTS``, ``CRAWL_ALLOW_PRIVATE_NETWORKS``).
        throttle: Per-host politeness (requests in flight, delay); the site's ``Crawl-delay``
            is honoured on top of it. Default: at most 2 requests per host at once,
            ``CRAWL_DELAY_S`` between two.
    """

    def __init__(self, settings: Settings, throttle: HostThrottle | None = None) -> None:
        self.settings = settings
        self.throttle = throttle or HostThrottle(delay_s=settings.crawl.delay_s)
        self._local = threading.local()
        self._robots: dict[str, urllib.robotparser.RobotFileParser] = {}
        self._robots_lock = threading.Lock()

    def _session(self) -> "requests.Session":
        import requests

        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            for prefix in ("http://", "https://"):
                session.mount(prefix, _pinned_adapter())
            session.headers.update(
                {
                    "User-Agent": self.settings.crawl.user_agent,
                    "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5",
                    "Accept-Language": "en;q=0.9,*;q=0.5",
                }
            )
            self._local.session = session
        return session

    def get(self, url: str, check_robots: bool = True) -> Page:
        """GET ``url`` with retries; a non-2xx final answer raises.

        Args:
            url: An http(s) URL.
            check_robots: Check ``robots.txt`` first (when ``CRAWL_RESPECT_ROBOTS`` is on).

        Raises:
            CrawlError: ``robots_disallowed``, ``private_network``, ``http_error``,
                ``timeout`` or ``connection_error``.
        """
        if check_robots and self.settings.crawl.respect_robots:
            self.ensure_allowed_by_robots(url)
        page = self._get_with_retries(url)
        if not 200 <= page.status < 300:
            raise CrawlError("http_error", f"HTTP {page.status} for {url}")
        return page

    def _get_with_retries(self, url: str) -> Page:
        retrying = Retrying(
            stop=stop_after_attempt(self.settings.crawl.retries),
            wait=wait_exponential(multiplier=0.5, max=8),
            retry=retry_if_exception(lambda error: isinstance(error, _Retryable)),
            reraise=False,
        )
        try:
            return retrying(self._get_once, url)
        except RetryError as error:
            last = error.last_attempt.exception()
            assert isinstance(last, _Retryable)
            raise last.error from None

    def _get_once(self, url: str) -> Page:
        import requests

        current = url
        for _ in range(MAX_REDIRECTS + 1):
            address = check_host_allowed(current, self.settings.crawl.allow_private_networks)
            pinned_url, host = _pinned(current, address)
            try:
                with self.throttle.slot(current, self.crawl_delay(current)):
                    response = self._session().get(
                        pinned_url,
                        headers={"Host": host},
                        timeout=self.settings.crawl.timeout_s,
                        allow_redirects=False,
                        stream=True,
                    )
                with response:
                    if response.is_redirect:
                        target = urljoin(current, response.headers.get("Location", ""))
                        if urlsplit(target).scheme not in {"http", "https"}:
                            raise CrawlError(
                                "unsupported_scheme", f"{current} redirects to {target!r}"
                            )
                        current = target
                        continue
                    content = _read_limited(response)
                    page = Page(
                        url=current,
                        status=response.status_code,
                        content=content,
                        content_type=response.headers.get("Content-Type", "")
                        .split(";")[0]
                        .strip()
                        .lower(),
                        encoding=response.encoding or _detected_encoding(content),
                        next_url=(response.links.get("next") or {}).get("url"),
                    )
            except requests.Timeout:
                logger.debug("timeout fetching {}", current)
                raise _Retryable(
                    CrawlError(
                        "timeout", f"{current} did not answer in {self.settings.crawl.timeout_s}s"
                    )
                ) from None
            except requests.ConnectionError as error:
                raise _Retryable(
                    CrawlError("connection_error", f"cannot connect to {current}: {error}")
                ) from None
            if page.status == 429 or page.status >= 500:
                raise _Retryable(CrawlError("http_error", f"HTTP {page.status} for {current}"))
            return page
        raise CrawlError("http_error", f"more than {MAX_REDIRECTS} redirects from {url}")

    def ensure_allowed_by_robots(self, url: str) -> None:
        """Raise ``CrawlError('robots_disallowed')`` if the site's robots.txt forbids ``url``
        for our user agent. A missing robots.txt (404) allows everything; 401/403 forbid
        everything (the usual convention); an unreachable one fails the link."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        with self._robots_lock:
            parser = self._robots.get(origin)
        if parser is None:
            parser = self._load_robots(origin)
            with self._robots_lock:
                self._robots[origin] = parser
        if not parser.can_fetch(self.settings.crawl.user_agent, url):
            raise CrawlError(
                "robots_disallowed",
                f"robots.txt of {origin} disallows {url} "
                "(set CRAWL_RESPECT_ROBOTS=false to ignore)",
            )

    def _robots_parser(self, url: str) -> urllib.robotparser.RobotFileParser | None:
        parts = urlsplit(url)
        with self._robots_lock:
            return self._robots.get(f"{parts.scheme}://{parts.netloc}")

    def crawl_delay(self, url: str) -> float | None:
        """The ``Crawl-delay`` (or ``Request-rate`` interval) robots.txt of ``url``'s site
        sets for our user agent, once that robots.txt has been read; else ``None``."""
        parser = self._robots_parser(url)
        if parser is None:
            return None
        agent = self.settings.crawl.user_agent
        delay = parser.crawl_delay(agent)
        rate = parser.request_rate(agent)
        if rate is not None and rate.requests:
            delay = max(float(delay or 0), rate.seconds / rate.requests)
        return float(delay) if delay else None

    def robots_sitemaps(self, url: str) -> list[str]:
        """The ``Sitemap:`` URLs robots.txt of ``url``'s site lists (read on first use).

        Raises:
            CrawlError: robots.txt is unreachable.
        """
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        parser = self._robots_parser(url)
        if parser is None:
            parser = self._load_robots(origin)
            with self._robots_lock:
                parser = self._robots.setdefault(origin, parser)
        # Relative values are not in the standard but occur; read them against the site.
        return [urljoin(f"{origin}/", url) for url in parser.site_maps() or []]

    def _load_robots(self, origin: str) -> urllib.robotparser.RobotFileParser:
        parser = urllib.robotparser.RobotFileParser(f"{origin}/robots.txt")
        try:
            page = self._get_with_retries(f"{origin}/robots.txt")
        except CrawlError as error:
            raise CrawlError(error.reason, f"robots.txt unreachable: {error}") from None
        if page.status in (401, 403):
            parser.disallow_all = True
        elif page.status >= 400:
            parser.allow_all = True
        else:
            parser.parse(page.text.splitlines())
        return parser


def _pinned(url: str, address: str) -> tuple[str, str]:
    """``url`` with its host replaced by the checked ``address``, and the ``Host`` header value
    (the original host, with its port when not the default)."""
    parts = urlsplit(url)
    literal = f"[{address}]" if ":" in address else address
    netloc = literal if parts.port is None else f"{literal}:{parts.port}"
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")), host


def _pinned_adapter() -> "requests.adapters.HTTPAdapter":
    """A requests adapter for URLs whose host is the checked IP address (see :func:`_pinned`):
    TLS still sends and verifies the original host name (SNI and certificate), taken from the
    request's ``Host`` header."""
    from requests.adapters import HTTPAdapter

    class PinnedAdapter(HTTPAdapter):
        def build_connection_pool_key_attributes(
            self,
            request: "requests.PreparedRequest",
            verify: bool | str,
            cert: str | tuple[str, str] | None = None,
        ) -> tuple[dict[str, object], dict[str, object]]:
            host_params, pool_kwargs = super().build_connection_pool_key_attributes(
                request, verify, cert
            )
            server = urlsplit(f"//{request.headers.get('Host', '')}").hostname
            if host_params.get("scheme") == "https" and server:
                pool_kwargs = {**pool_kwargs, "server_hostname": server, "assert_hostname": server}
            return host_params, pool_kwargs

    return PinnedAdapter()


def _detected_encoding(content: bytes) -> str | None:
    """The charset of a body served without one (no ``Content-Type``, or a type such as
    ``application/xhtml+xml`` that requests gives no default), guessed from the bytes:
    ``response.apparent_encoding`` would re-read the already streamed body."""
    from charset_normalizer import from_bytes

    best = from_bytes(content[:65536]).best()
    return best.encoding if best is not None else None


def _read_limited(response: "requests.Response") -> bytes:
    chunks, size = [], 0
    for chunk in response.iter_content(chunk_size=65536):
        size += len(chunk)
        if size > MAX_PAGE_BYTES:
            raise CrawlError("http_error", f"{response.url} is larger than {MAX_PAGE_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
