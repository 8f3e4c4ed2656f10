"""Ingest a body of work: discover the links of each root URL, crawl them and save what comes
back in small checkpoints, so a run that is killed keeps what it saved and the next run only
fetches what is missing (stored links are skipped by discovery and by the crawl)."""

import time
from collections import Counter

from pydantic import BaseModel, Field

from llm_twin.application.crawlers.base import Author
from llm_twin.application.crawlers.batch import LinkReport, crawl_links
from llm_twin.application.crawlers.discovery import (
    DiscoveryOptions,
    SourceReport,
    apply_listing_metadata,
    expand_links,
)
from llm_twin.application.crawlers.dispatcher import CrawlerDispatcher
from llm_twin.application.crawlers.saving import save_documents
from llm_twin.domain.types import DataCategory
from llm_twin.infrastructure.db.warehouse import Warehouse

#: Links crawled between two saves: what a killed run can lose at most.
CHECKPOINT_LINKS = 8


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
        """Discovery, crawl and save counts, with the ETL's key names."""
        statuses = Counter(report.status for report in self.reports)
        discovered = [outcome.discovery for outcome in self.sources]
        return {
            "sources_total": len(discovered),
            "sources_failed": sum(1 for source in discovered if source.error),
            "links_discovered": sum(source.discovered for source in discovered),
            "discovered_already_stored": sum(source.already_stored for source in discovered),
            "discovered_over_budget": sum(source.over_budget for source in discovered),
            "links_total": len(self.reports),
            "links_crawled": statuses["crawled"],
            "links_skipped": statuses["skipped"],
            "links_failed": statuses["failed"],
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
) -> IngestResult:
    """Discover, crawl and save the work behind ``links`` for ``author``.

    Args:
        links: Root URLs (every one is tried for discovery; one under which nothing is listed
            is crawled as a page) and plain article or repository links.
        author: The warehouse user the documents belong to.
        warehouse: Where documents are saved (after every ``checkpoint`` links).
        dispatcher: Routes each link to its crawler; its fetcher is used for discovery too.
        options: Discovery budget (``max_pages`` per source), API locations, overrides.
        force: Re-crawl links already stored (discovery still lists them).
        concurrency: Links crawled at once (requests per host are capped by the fetcher).
        checkpoint: Links crawled between two saves.
        progress: Show a progress bar per checkpoint on stderr.
    """
    started = time.perf_counter()
    known = known_links(warehouse)
    expansion = expand_links(
        links,
        dispatcher.fallback.fetcher,
        options,
        set() if force else known,
        always=True,
        browsers=dispatcher.browsers,
    )
    result = IngestResult(sources=[SourceOutcome(discovery=s) for s in expansion.sources])
    by_root = {outcome.discovery.root: outcome for outcome in result.sources}
    for start in range(0, len(expansion.links), max(1, checkpoint)):
        chunk = expansion.links[start : start + max(1, checkpoint)]
        batch = crawl_links(chunk, author, dispatcher, known, force, concurrency, progress)
        apply_listing_metadata(batch, expansion)
        saved = save_documents(warehouse, batch.content_documents())
        for key, value in saved.items():
            result.saved[key] = result.saved.get(key, 0) + value
        known.update(document["document"]["link"] for document in batch.documents)
        result.reports.extend(batch.reports)
        for report in batch.reports:
            found = expansion.found.get(report.link)
            outcome = by_root.get(found.source if found else report.link)
            if outcome is not None:
                _record(outcome, report)
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def _record(outcome: SourceOutcome, report: LinkReport) -> None:
    if report.status == "crawled":
        outcome.crawled += 1
    elif report.status == "failed":
        outcome.failed[report.reason] = outcome.failed.get(report.reason, 0) + 1
        if len(outcome.failures) < 5:
            outcome.failures.append(f"{report.link}: {report.message}")


__all__ = ["IngestResult", "SourceOutcome", "ingest", "known_links"]
