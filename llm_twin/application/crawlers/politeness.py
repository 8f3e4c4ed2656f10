"""Per-host politeness for every HTTP fetch: at most a few requests in flight per host, and a
minimum interval between two requests to the same host (the configured delay, or the site's
``Crawl-delay`` when it asks for more)."""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

#: A site's ``Crawl-delay`` above this is capped (some sites ask for minutes; the crawl budget
#: already bounds how many pages one run fetches).
MAX_CRAWL_DELAY_S = 30.0


class HostThrottle:
    """Spaces and bounds the requests sent to each host; safe to share between threads.

    Args:
        delay_s: Minimum seconds between the starts of two requests to one host.
        max_in_flight: Requests to one host allowed at the same time (1–2 is polite).
    """

    def __init__(self, delay_s: float = 0.0, max_in_flight: int = 2) -> None:
        if delay_s < 0 or max_in_flight < 1:
            raise ValueError(
                f"delay_s must be >= 0 and max_in_flight >= 1 (got {delay_s}, {max_in_flight})"
            )
        self.delay_s = delay_s
        self.max_in_flight = max_in_flight
        self._lock = threading.Lock()
        self._hosts: dict[str, tuple[threading.Semaphore, threading.Lock, list[float]]] = {}

    def _host(self, url: str) -> tuple[threading.Semaphore, threading.Lock, list[float]]:
        host = (urlsplit(url).netloc or "").lower()
        with self._lock:
            if host not in self._hosts:
                self._hosts[host] = (
                    threading.Semaphore(self.max_in_flight),
                    threading.Lock(),
                    [0.0],
                )
            return self._hosts[host]

    @contextmanager
    def slot(self, url: str, crawl_delay_s: float | None = None) -> Iterator[None]:
        """Hold a request slot for ``url``'s host, waiting for a free slot and for the interval
        since the previous request to that host.

        Args:
            url: The URL about to be requested.
            crawl_delay_s: The host's ``Crawl-delay`` from robots.txt, when it declares one.
        """
        interval = max(self.delay_s, min(crawl_delay_s or 0.0, MAX_CRAWL_DELAY_S))
        semaphore, spacing, last = self._host(url)
        with semaphore:
            if interval > 0:
                with spacing:
                    wait = last[0] + interval - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                    last[0] = time.monotonic()
            yield
