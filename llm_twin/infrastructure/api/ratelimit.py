"""Per-client rate limiting: a sliding one-minute window per client key."""

import threading
import time
from collections import defaultdict, deque


class RateLimiter:
    """At most ``per_minute`` requests per client in any 60-second window.

    Args:
        per_minute: The limit; 0 disables limiting.
    """

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def check(self, client: str) -> float:
        """Record a request by ``client``; returns 0 if allowed, else seconds until it would be."""
        if self.per_minute <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            hits = self._hits[client]
            while hits and hits[0] <= now - 60.0:
                hits.popleft()
            if len(hits) >= self.per_minute:
                return max(0.001, hits[0] + 60.0 - now)
            hits.append(now)
            return 0.0
