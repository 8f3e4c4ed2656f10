"""ETL step: crawl the user's links (skipping those already in the warehouse)."""

from typing import Annotated

from loguru import logger
from zenml import step

from llm_twin.application.crawlers import Author, CrawlBatch, build_dispatcher
from llm_twin.application.crawlers import crawl_links as crawl_batch
from llm_twin.application.crawlers.discovery import apply_listing_metadata, expand_links
from llm_twin.application.crawlers.politeness import HostThrottle
from llm_twin.domain.documents import UserDocument
from llm_twin.domain.exceptions import LLMTwinError
from llm_twin.domain.types import DataCategory
from llm_twin.infrastructure.db.mongo import open_warehouse
from llm_twin.settings import get_settings
from pipelines.configs import DigitalDataEtlConfig
from steps.metadata import record_counts


class AllLinksFailed(LLMTwinError):
    """Every link of the run failed: nothing could be collected."""


# Never cached: the result depends on the web and on what the warehouse already holds.
@step(enable_cache=False)
def crawl_links(
    user: UserDocument, config: DigitalDataEtlConfig
) -> Annotated[CrawlBatch, "crawled"]:
    """Crawl ``config.links`` for ``user``; one bad link is recorded and the others continue.

    Args:
        user: The warehouse user the documents belong to.
        config: The links (root URLs are first expanded by discovery), ``force``, the
            ``platforms`` routing (sites on their own domain that a platform crawler must
            handle), the ``concurrency`` (default ``CRAWL_CONCURRENCY``) and the ``discovery``
            options (default the ``CRAWL_*`` settings).

    Raises:
        AllLinksFailed: there were links and every one failed (the run then exits non-zero).
    """
    settings = get_settings()
    with open_warehouse(settings) as warehouse:
        known = set().union(*(warehouse.documents(c).links() for c in DataCategory))
    options = config.discovery_options(settings)
    with build_dispatcher(settings, HostThrottle(delay_s=options.delay_s)) as dispatcher:
        for prefix, platform in config.platforms.items():
            dispatcher.override(prefix, platform)
        # Root URLs (a blog, a profile, an account) become the links they list.
        expansion = expand_links(
            config.links,
            dispatcher.fallback.fetcher,
            options,
            set() if config.force else known,
            browsers=dispatcher.browsers,
        )
        batch = crawl_batch(
            expansion.links,
            Author(id=user.id, full_name=user.full_name),
            dispatcher,
            known_links=known,
            force=config.force,
            concurrency=config.concurrency or settings.crawl.concurrency,
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
