"""An optional in-memory response cache: exact match on question + filters + model, with a TTL,
and counters for its hit rate and the generation time it saved."""

import hashlib
import json
import threading
import time
from dataclasses import dataclass

from llm_twin.application.inference.models import Answer


@dataclass
class CacheStats:
    """Cache counters.

    Attributes:
        hits: Lookups answered from the cache.
        misses: Lookups not found (or expired).
        saved_ms: Sum of the original latencies of the answers served from the cache.
    """

    hits: int = 0
    misses: int = 0
    saved_ms: float = 0.0

    def as_dict(self) -> dict[str, int | float]:
        total = self.hits + self.misses
        return {
            "hits": self.hits,
            "misses": self.misses,
            "hit_rate": round(self.hits / total, 4) if total else 0.0,
            "saved_ms": round(self.saved_ms, 1),
        }


class ResponseCache:
    """Answers by key for ``ttl`` seconds.

    Args:
        ttl: Seconds an entry lives; 0 disables the cache (every lookup misses, nothing stored).
        max_entries: Oldest entries are dropped beyond this many.
    """

    def __init__(self, ttl: float, max_entries: int = 1024) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.stats = CacheStats()
        self._entries: dict[str, tuple[float, Answer]] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.ttl > 0

    @staticmethod
    def key(**parts: object) -> str:
        """A key for the request ``parts`` (question, filters, history, model id...)."""
        blob = json.dumps(parts, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    def get(self, key: str) -> Answer | None:
        """The cached value for ``key`` if still fresh (counts a hit or a miss)."""
        if not self.enabled:
            return None
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] < time.monotonic():
                self._entries.pop(key, None)
                self.stats.misses += 1
                return None
            self.stats.hits += 1
            self.stats.saved_ms += entry[1].latency_ms.total
            return entry[1]

    def clear(self) -> None:
        """Forget every answer (the indexed content changed; the counters are kept)."""
        with self._lock:
            self._entries.clear()

    def put(self, key: str, value: Answer) -> None:
        """Store ``value`` under ``key`` (its ``latency_ms.total`` counts as saved per hit)."""
        if not self.enabled:
            return
        with self._lock:
            self._entries[key] = (time.monotonic() + self.ttl, value)
            while len(self._entries) > self.max_entries:
                self._entries.pop(next(iter(self._entries)))
