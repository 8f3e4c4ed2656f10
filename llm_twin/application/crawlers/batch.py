"""Crawl a list of links with bounded concurrency and per-link failure isolation.

:func:`crawl_links` never raises for a bad link: each link ends ``crawled``, ``skipped`` or
``failed`` with its reason, and the documents of the crawled ones are returned for saving.
"""

import dataclasses
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, Literal

from loguru import logger
from pydantic import BaseModel, Field

from llm_twin.application.crawlers.base import Author, CrawlError
from llm_twin.application.crawlers.discovery.urls import link_key
from llm_twin.application.crawlers.dispatcher import CrawlerDispatcher, Route
from llm_twin.application.crawlers.links import normalize_link, strip_credentials
from llm_twin.domain.documents import ContentDocument, document_type_for

LinkStatus = Literal["crawled", "skipped", "failed"]
#: Called (on the caller's thread) with each crawled link's report and documents as soon as
#: the link is done, e.g. to save them before the rest of the batch is crawled.
OnCrawled = Callable[["LinkReport", list[ContentDocument]], None]


class LinkReport(BaseModel):
    """What happened to one link.

    Attributes:
        link: The link as given in the config.
        normalized: The link the warehouse knows it by ("" when it could not be parsed).
        status: ``crawled``, ``skipped`` (already in the warehouse, or a duplicate) or ``failed``.
        platform: Platform of its crawler ("" when no crawler was chosen).
        crawler: Crawler class name.
        reason: Short code for a skip or failure (see :class:`CrawlError`), else "".
        message: Human-readable detail of a failure or skip.
        documents: How many documents the crawl returned.
        seconds: Time spent on the link.
    """

    link: str
    normalized: str = ""
    status: LinkStatus
    platform: str = ""
    crawler: str = ""
    reason: str = ""
    message: str = ""
    documents: int = 0
    seconds: float = 0.0


class CrawlBatch(BaseModel):
    """A crawl step's output: the per-link reports and the crawled documents.

    Documents travel in their stored form (``to_mongo``) with their category, so the batch
    serialises as plain JSON between pipeline steps; :meth:`content_documents` rebuilds them.
    """

    reports: list[LinkReport] = Field(default_factory=list)
    documents: list[dict[str, Any]] = Field(default_factory=list)
    seconds: float = 0.0

    def add_documents(self, documents: Iterable[ContentDocument]) -> None:
        for document in documents:
            self.documents.append(
                {"category": str(document.category), "document": document.to_mongo()}
            )

    def content_documents(self) -> list[ContentDocument]:
        """The crawled documents as validated domain objects."""
        return [
            document_type_for(item["category"]).from_mongo(item["document"])
            for item in self.documents
        ]

    def counts(self) -> dict[str, int]:
        """``links_total``/``links_crawled``/``links_skipped``/``links_failed``, the same per
        platform (``links_crawled_medium``…) and ``documents_crawled``."""
        statuses = Counter(report.status for report in self.reports)
        counts = {
            "links_total": len(self.reports),
            "links_crawled": statuses["crawled"],
            "links_skipped": statuses["skipped"],
            "links_failed": statuses["failed"],
            "documents_crawled": len(self.documents),
        }
        for report in self.reports:
            if report.platform:
                key = f"links_{report.status}_{report.platform}"
                counts[key] = counts.get(key, 0) + 1
        return counts

    @property
    def all_failed(self) -> bool:
        """True when there were links and every one of them failed."""
        return bool(self.reports) and all(report.status == "failed" for report in self.reports)


def _route_links(
    links: list[str],
    dispatcher: CrawlerDispatcher,
    known_links: set[str],
    force: bool,
) -> tuple[list[LinkReport | None], list["_Job"]]:
    """Normalise and route every link: the reports of the links failed or skipped at once (by
    position, None for the others) and the jobs to crawl."""
    reports: list[LinkReport | None] = [None] * len(links)
    jobs: list[_Job] = []
    seen: set[str] = set()
    # By link_key: a stored article reached through another form of its URL (www., http/https,
    # a trailing slash, index.html) is not fetched again.
    known_keys = {link_key(link) for link in known_links}
    for index, given in enumerate(links):
        link = strip_credentials(given)  # reports and logs never show credentials
        try:
            normalized = normalize_link(link)
            route = dispatcher.route(normalized)
        except CrawlError as error:
            reports[index] = LinkReport(
                link=link, status="failed", reason=error.reason, message=str(error)
            )
            continue
        job = _Job(index, link, normalized, route)
        if normalized in seen:
            reports[index] = job.report(
                status="skipped", reason="duplicate", message="listed twice"
            )
        elif link_key(normalized) in known_keys and not force and not route.crawler.listing:
            reports[index] = job.report(
                status="skipped",
                reason="already_crawled",
                message="already in the warehouse (set force: true to re-crawl)",
            )
        else:
            jobs.append(job)
        seen.add(normalized)
    return reports, jobs


@dataclasses.dataclass(frozen=True)
class _Job:
    """One link to crawl: its position in the config, the link as given and normalised, and
    its route."""

    index: int
    link: str
    normalized: str
    route: Route

    def report(
        self,
        status: LinkStatus,
        reason: str = "",
        message: str = "",
        documents: int = 0,
        seconds: float = 0.0,
    ) -> LinkReport:
        """This link's report (see :class:`LinkReport` for the fields)."""
        return LinkReport(
            link=self.link,
            normalized=self.normalized,
            status=status,
            platform=self.route.platform,
            crawler=type(self.route.crawler).__name__,
            reason=reason,
            message=message,
            documents=documents,
            seconds=seconds,
        )

    def run(self, author: Author) -> tuple[LinkReport, list[ContentDocument]]:
        """Crawl the link; a failure (even a crawler bug) becomes a ``failed`` report."""
        began = time.perf_counter()
        try:
            documents = self.route.crawler.crawl(self.normalized, author)
        except CrawlError as error:
            logger.warning("failed {}: {}", self.normalized, error)
            return self.report(status="failed", reason=error.reason, message=str(error),
                               seconds=_since(began)), []  # fmt: skip
        except Exception as error:  # a crawler bug must not stop the other links
            logger.opt(exception=error).error("crawler error on {}", self.normalized)
            return self.report(status="failed", reason="crawler_error",
                               message=f"{type(error).__name__}: {error}",
                               seconds=_since(began)), []  # fmt: skip
        for document in documents:
            document.platform = self.route.platform
        logger.info("crawled {} ({} documents)", self.normalized, len(documents))
        report = self.report(status="crawled", documents=len(documents), seconds=_since(began))
        return report, documents


def _run_jobs(
    jobs: list[_Job],
    author: Author,
    reports: list[LinkReport | None],
    concurrency: int,
    progress: bool,
    on_crawled: OnCrawled | None = None,
) -> dict[int, list[ContentDocument]]:
    """Crawl ``jobs`` on ``concurrency`` threads, filling ``reports`` by position; the
    documents by link position (those handed to ``on_crawled`` are not kept). When the run
    is interrupted (an exception, Ctrl+C), links not started yet are dropped, not crawled."""
    from tqdm import tqdm

    crawled: dict[int, list[ContentDocument]] = {}
    if not jobs:
        return crawled
    workers = max(1, min(concurrency, len(jobs)))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="crawl")
    try:
        with tqdm(total=len(jobs), desc="Crawling", unit="link", file=sys.stderr,
                  disable=not progress) as bar:  # fmt: skip
            futures = {pool.submit(job.run, author): job.index for job in jobs}
            for future in as_completed(futures):
                index = futures[future]
                reports[index], documents = future.result()
                if on_crawled is None:
                    crawled[index] = documents
                elif documents:
                    on_crawled(reports[index], documents)  # type: ignore[arg-type]
                bar.update(1)
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return crawled


def crawl_links(
    links: list[str],
    author: Author,
    dispatcher: CrawlerDispatcher,
    known_links: set[str],
    force: bool = False,
    concurrency: int = 4,
    progress: bool = True,
    on_crawled: OnCrawled | None = None,
) -> CrawlBatch:
    """Crawl ``links`` for ``author``.

    Args:
        links: Links from the config, in order.
        author: The user the documents belong to.
        dispatcher: Routes each link to its crawler.
        known_links: Links already in the warehouse: skipped unless ``force`` (compared by
            :func:`~.discovery.urls.link_key`). Listing links (a LinkedIn feed) are always
            read, as they gain new items.
        force: Re-crawl links already in the warehouse.
        concurrency: Links crawled at the same time (threads).
        progress: Show a progress bar on stderr.
        on_crawled: Receives each crawled link's report and documents as soon as the link is
            done (to save them at once); its documents are then not kept in the batch.
    """
    started = time.perf_counter()
    batch = CrawlBatch()
    reports, jobs = _route_links(links, dispatcher, known_links, force)
    crawled = _run_jobs(jobs, author, reports, concurrency, progress, on_crawled)
    for index in sorted(crawled):
        batch.add_documents(crawled[index])
    batch.reports = [report for report in reports if report is not None]
    batch.seconds = _since(started)
    return batch


def _since(began: float) -> float:
    return round(time.perf_counter() - began, 3)
