"""ETL step: crawl the user's links (skipping those already in the warehouse)."""

from typing import Annotated, Any

from loguru import logger
from zenml import step

from llm_twin.application.crawlers import Author, CrawlBatch, build_dispatcher
from llm_twin.application.crawlers import crawl_links as crawl_batch
from llm_twin.application.crawlers.discovery import (
    DiscoveryOptions,
    apply_listing_metadata,
    expand_links,
)
from llm_twin.application.crawlers.politeness import HostThrottle
from llm_twin.domain.documents import UserDocument
from llm_twin.domain.exceptions import LLMTwinError
from llm_twin.domain.types import DataCategory
from llm_twin.infrastructure.db.mongo import open_warehouse
from llm_twin.settings import get_settings
from steps.metadata import record_counts


class AllLinksFailed(LLMTwinError):
    """Every link of the run failed: nothing could be collected."""


# Never cached: the result depends on the web and on what the warehouse already holds.
@step(enable_cache=False)
def crawl_links(
    user: UserDocument,
    links: list[str],
    force: bool = False,
    platforms: dict[str, str] | None = None,
    concurrency: int | None = None,
    discovery: dict[str, Any] | None = None,
) -> Annotated[CrawlBatch, "crawled"]:
    """Crawl ``links`` for ``user``; one bad link is recorded and the others continue.

    Args:
        user: The warehouse user the documents belong to.
        links: URLs (http, https or git) of articles, a LinkedIn profile, repositories.
        force: Re-crawl links that are already in the warehouse.
        platforms: ``{URL prefix: platform}`` for sites on their own domain that a platform
            crawler must handle (``{"https://pub.towardsai.net/": "medium"}``).
        concurrency: Links crawled at once; default ``CRAWL_CONCURRENCY``.
        discovery: Options of root-URL discovery (``max_pages``, ``delay_s``,
            ``github_api_url``… see :meth:`DiscoveryOptions.from_config`).

    Raises:
        AllLinksFailed: there were links and every one failed (the run then exits non-zero).
    """
    settings = get_settings()
    with open_warehouse(settings) as warehouse:
        known = set().union(*(warehouse.documents(c).links() for c in DataCategory))
    options = DiscoveryOptions.from_config(discovery, platforms)
    with build_dispatcher(settings, HostThrottle(delay_s=options.delay_s)) as dispatcher:
        for prefix, platform in (platforms or {}).items():
            dispatcher.override(prefix, platform)
        # Root URLs (a blog, a profile, an account) become the links they list.
        expansion = expand_links(
            links,
            dispatcher.fallback.fetcher,
            options,
            set() if force else known,
            browsers=dispatcher.browsers,
        )
        batch = crawl_batch(
            expansion.links,
            Author(id=user.id, full_name=user.full_name),
            dispatcher,
            known_links=known,
            force=force,
            concurrency=concurrency or settings.CRAWL_CONCURRENCY,
        )
        apply_listing_metadata(batch, expansion)
        browsers = dispatcher.browsers.started if dispatcher.browsers else 0
    counts = batch.counts()
    record_counts(
        {
            "links": [report.model_dump() for report in batch.reports],
            "crawl_seconds": batch.seconds,
            "browsers_started": browsers,
            "sources": [source.model_dump() for source in expansion.sources],
        },
        **counts,
        **expansion.counts(),
    )
    logger.info(
        "links: {} crawled, {} skipped, {} failed ({:.1f}s)",
        counts["links_crawled"],
        counts["links_skipped"],
        counts["links_failed"],
        batch.seconds,
    )
    if batch.all_failed:
        reasons = "; ".join(f"{r.link}: {r.message}" for r in batch.reports[:5])
        raise AllLinksFailed(f"every link failed ({len(batch.reports)}): {reasons}")
    return batch
