"""Crawl a list of links with bounded concurrency and per-link failure isolation.

:func:`crawl_links` never raises for a bad link: each link ends ``crawled``, ``skipped`` or
``failed`` with its reason, and the documents of the crawled ones are returned for saving.
"""

import sys
import time
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, Literal

from loguru import logger
from pydantic import BaseModel, Field

from llm_twin.application.crawlers.base import Author, CrawlError
from llm_twin.application.crawlers.dispatcher import CrawlerDispatcher
from llm_twin.application.crawlers.links import normalize_link
from llm_twin.domain.documents import ContentDocument, document_type_for

LinkStatus = Literal["crawled", "skipped", "failed"]


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


def crawl_links(
    links: list[str],
    author: Author,
    dispatcher: CrawlerDispatcher,
    known_links: set[str],
    force: bool = False,
    concurrency: int = 4,
    progress: bool = True,
) -> CrawlBatch:
    """Crawl ``links`` for ``author``.

    Args:
        links: Links from the config, in order.
        author: The user the documents belong to.
        dispatcher: Routes each link to its crawler.
        known_links: Links already in the warehouse: skipped unless ``force``. Listing links
            (a LinkedIn feed) are always read, as they gain new items.
        force: Re-crawl links already in the warehouse.
        concurrency: Links crawled at the same time (threads).
        progress: Show a progress bar on stderr.
    """
    from tqdm import tqdm

    started = time.perf_counter()
    batch = CrawlBatch()
    reports: list[LinkReport | None] = [None] * len(links)
    jobs: list[tuple[int, str, Any]] = []
    seen: set[str] = set()
    for index, link in enumerate(links):
        try:
            normalized = normalize_link(link)
            route = dispatcher.route(normalized)
        except CrawlError as error:
            reports[index] = LinkReport(
                link=link, status="failed", reason=error.reason, message=str(error)
            )
            continue
        common = {
            "link": link,
            "normalized": normalized,
            "platform": route.platform,
            "crawler": type(route.crawler).__name__,
        }
        if normalized in seen:
            reports[index] = LinkReport(
                **common, status="skipped", reason="duplicate", message="listed twice"
            )
        elif normalized in known_links and not force and not route.crawler.listing:
            reports[index] = LinkReport(
                **common,
                status="skipped",
                reason="already_crawled",
                message="already in the warehouse (set force: true to re-crawl)",
            )
        else:
            jobs.append((index, normalized, route))
        seen.add(normalized)

    def run(job: tuple[int, str, Any]) -> tuple[int, LinkReport, list[ContentDocument]]:
        index, normalized, route = job
        common = {
            "link": links[index],
            "normalized": normalized,
            "platform": route.platform,
            "crawler": type(route.crawler).__name__,
        }
        began = time.perf_counter()
        try:
            documents = route.crawler.crawl(normalized, author)
        except CrawlError as error:
            logger.warning("failed {}: {}", normalized, error)
            return index, LinkReport(**common, status="failed", reason=error.reason,
                                     message=str(error), seconds=_since(began)), []  # fmt: skip
        except Exception as error:  # a crawler bug must not stop the other links
            logger.opt(exception=error).error("crawler error on {}", normalized)
            return index, LinkReport(**common, status="failed", reason="crawler_error",
                                     message=f"{type(error).__name__}: {error}",
                                     seconds=_since(began)), []  # fmt: skip
        for document in documents:
            document.platform = route.platform
        logger.info("crawled {} ({} documents)", normalized, len(documents))
        report = LinkReport(
            **common, status="crawled", documents=len(documents), seconds=_since(began)
        )
        return index, report, documents

    crawled: dict[int, list[ContentDocument]] = {}
    if jobs:
        workers = max(1, min(concurrency, len(jobs)))
        with (
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="crawl") as pool,
            tqdm(total=len(jobs), desc="Crawling", unit="link", file=sys.stderr,
                 disable=not progress) as bar,
        ):  # fmt: skip
            futures = [pool.submit(run, job) for job in jobs]
            for future in as_completed(futures):
                index, report, documents = future.result()
                reports[index] = report
                crawled[index] = documents
                bar.update(1)
    for index in sorted(crawled):
        batch.add_documents(crawled[index])
    batch.reports = [report for report in reports if report is not None]
    batch.seconds = _since(started)
    return batch


def _since(began: float) -> float:
    return round(time.perf_counter() - began, 3)
