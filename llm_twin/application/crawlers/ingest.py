"""Ingest a body of work: discover the links of each root URL, crawl them and save what comes
back in small checkpoints as links finish, so a run that is killed keeps what it saved and the
next run only fetches what is missing (stored links are skipped by discovery and by the crawl).
Used by ``poe add-author`` and by the ETL pipeline's crawl step."""

import time

from loguru import logger
from pydantic import BaseModel, Field

from llm_twin.application.crawlers.base import Author
from llm_twin.application.crawlers.batch import CrawlBatch, LinkReport, crawl_links
from llm_twin.application.crawlers.discovery import (
    DiscoveryOptions,
    Expansion,
    SourceReport,
    apply_listing_metadata,
    expand_links,
)
from llm_twin.application.crawlers.dispatcher import CrawlerDispatcher
from llm_twin.application.crawlers.saving import save_documents
from llm_twin.domain.documents import ContentDocument
from llm_twin.domain.types import DataCategory
from llm_twin.infrastructure.db.warehouse import Warehouse

#: Crawled links saved together at most; with :data:`CHECKPOINT_S`, what a killed run can
#: lose (a save reads the author's stored documents for cross-posts, so not one per link).
CHECKPOINT_LINKS = 8
#: Crawled links waiting longer than this are saved at once (slow sites save link by link).
CHECKPOINT_S = 2.0


class SourceOutcome(BaseModel):
    """Discovery's report of one root URL plus what happened to its links.

    Attributes:
        discovery: How the links were found (see :class:`SourceReport`).
        crawled: Links crawled successfully this run.
        failed: Failed links by reason.
        failures: ``"link: message"`` of the first failures (for the user to read).
    """

    discovery: SourceReport
    crawled: int = 0
    failed: dict[str, int] = Field(default_factory=dict)
    failures: list[str] = Field(default_factory=list)


class IngestResult(BaseModel):
    """What an ingest run did.

    Attributes:
        sources: One outcome per root URL (links that were not roots have none).
        reports: Per-link crawl reports, in crawl order.
        saved: Warehouse save counts summed over the checkpoints (``documents_inserted``…).
        seconds: Wall time of the run.
    """

    sources: list[SourceOutcome] = Field(default_factory=list)
    reports: list[LinkReport] = Field(default_factory=list)
    saved: dict[str, int] = Field(default_factory=dict)
    seconds: float = 0.0

    def counts(self) -> dict[str, int]:
        """Discovery, crawl and save counts, with the ETL's key names (per platform too:
        ``links_crawled_medium``…)."""
        discovered = [outcome.discovery for outcome in self.sources]
        crawl = CrawlBatch(reports=self.reports).counts()
        crawl.pop("documents_crawled")  # the documents were saved as they came, not kept
        return {
            "sources_total": len(discovered),
            "sources_failed": sum(1 for source in discovered if source.error),
            "links_discovered": sum(source.discovered for source in discovered),
            "discovered_already_stored": sum(source.already_stored for source in discovered),
            "discovered_over_budget": sum(source.over_budget for source in discovered),
            **crawl,
            **self.saved,
        }

    @property
    def failed(self) -> bool:
        """True when nothing worked: every source failed, or every crawled link failed."""
        if self.sources and all(outcome.discovery.error for outcome in self.sources):
            return True
        return bool(self.reports) and all(report.status == "failed" for report in self.reports)


def known_links(warehouse: Warehouse) -> set[str]:
    """Every link stored in the warehouse, all categories."""
    return set().union(*(warehouse.documents(category).links() for category in DataCategory))


def ingest(
    links: list[str],
    author: Author,
    warehouse: Warehouse,
    dispatcher: CrawlerDispatcher,
    options: DiscoveryOptions,
    force: bool = False,
    concurrency: int = 2,
    checkpoint: int = CHECKPOINT_LINKS,
    progress: bool = False,
    discover_every_link: bool = True,
    checkpoint_s: float = CHECKPOINT_S,
) -> IngestResult:
    """Discover, crawl and save the work behind ``links`` for ``author``.

    Args:
        links: Root URLs and plain article or repository links.
        author: The warehouse user the documents belong to.
        warehouse: Where documents are saved, in checkpoints while the crawl goes on.
        dispatcher: Routes each link to its crawler; its fetcher is used for discovery too.
        options: Discovery budget (``max_pages`` per source), API locations, overrides.
        force: Re-crawl links already stored (discovery still lists them).
        concurrency: Links crawled at once (requests per host are capped by the fetcher).
        checkpoint: Crawled links saved together at most.
        progress: Show a progress bar on stderr.
        discover_every_link: Try discovery on every link (one under which nothing is listed
            is crawled as a page); else only on links that look like a root (the ETL config).
        checkpoint_s: A link done this long after the last save is saved at once.
    """
    started = time.perf_counter()
    known = known_links(warehouse)
    expansion = expand_links(
        links,
        dispatcher.fallback.fetcher,
        options,
        set() if force else known,
        always=discover_every_link,
        browsers=dispatcher.browsers,
    )
    result = IngestResult(sources=[SourceOutcome(discovery=s) for s in expansion.sources])
    saver = _Checkpoints(warehouse, expansion, result.saved, checkpoint, checkpoint_s)
    batch = crawl_links(expansion.links, author, dispatcher, known, force, concurrency, progress,
                        on_crawled=saver.add)  # fmt: skip
    saver.flush()
    result.reports = batch.reports
    by_root = {outcome.discovery.root: outcome for outcome in result.sources}
    for report in batch.reports:
        found = expansion.found.get(report.link)
        outcome = by_root.get(found.source if found else report.link)
        if outcome is not None:
            _record(outcome, report)
    result.seconds = round(time.perf_counter() - started, 3)
    return result


class _Checkpoints:
    """Saves crawled documents while the crawl goes on: every ``links`` crawled links, or at
    the first link done ``seconds`` after the last save (so a slow site is saved link by
    link); :meth:`flush` saves the rest. Listing metadata (feed dates and tags) is applied
    first. ``saved`` accumulates the save counts."""

    def __init__(
        self,
        warehouse: Warehouse,
        expansion: Expansion,
        saved: dict[str, int],
        links: int,
        seconds: float,
    ) -> None:
        self.warehouse, self.expansion, self.saved = warehouse, expansion, saved
        self.links, self.seconds = max(1, links), seconds
        self._pending: list[ContentDocument] = []
        self._pending_links = 0
        self._last_save = time.monotonic()

    def add(self, report: LinkReport, documents: list[ContentDocument]) -> None:
        self._pending += documents
        self._pending_links += 1
        since_save = time.monotonic() - self._last_save
        if self._pending_links >= self.links or since_save >= self.seconds:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        batch = CrawlBatch()
        batch.add_documents(self._pending)
        apply_listing_metadata(batch, self.expansion)
        counts = save_documents(self.warehouse, batch.content_documents())
        for key, value in counts.items():
            self.saved[key] = self.saved.get(key, 0) + value
        logger.debug("checkpoint: {} links saved ({})", self._pending_links, counts)
        self._pending, self._pending_links = [], 0
        self._last_save = time.monotonic()


def _record(outcome: SourceOutcome, report: LinkReport) -> None:
    if report.status == "crawled":
        outcome.crawled += 1
    elif report.status == "failed":
        outcome.failed[report.reason] = outcome.failed.get(report.reason, 0) + 1
        if len(outcome.failures) < 5:
            outcome.failures.append(f"{report.link}: {report.message}")


__all__ = ["IngestResult", "SourceOutcome", "ingest", "known_links"]
