"""ETL step: crawl the user's links and save what comes back into the warehouse as it comes
(skipping what is already stored), so a run killed mid-way resumes where it stopped."""

from typing import Annotated

from loguru import logger
from zenml import step

from llm_twin.application.crawlers import Author, build_dispatcher
from llm_twin.application.crawlers.ingest import IngestResult, ingest
from llm_twin.application.crawlers.politeness import HostThrottle
from llm_twin.domain.documents import UserDocument
from llm_twin.domain.exceptions import LLMTwinError
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
) -> Annotated[IngestResult, "crawled"]:
    """Crawl ``config.links`` for ``user`` and save the documents in small checkpoints while
    crawling (a killed run keeps what it saved; stored links, including discovered ones, are
    never fetched again unless ``force``); one bad link is recorded and the others continue.

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
    options = config.discovery_options(settings)
    with (
        open_warehouse(settings) as warehouse,
        build_dispatcher(settings, HostThrottle(delay_s=options.delay_s)) as dispatcher,
    ):
        for prefix, platform in config.platforms.items():
            dispatcher.override(prefix, platform)
        result = ingest(
            config.links,
            Author(id=user.id, full_name=user.full_name),
            warehouse,
            dispatcher,
            options,
            force=config.force,
            concurrency=config.concurrency or settings.crawl.concurrency,
            progress=True,
            discover_every_link=False,  # only root-looking links; articles are crawled as given
        )
        browsers = dispatcher.browsers.started if dispatcher.browsers else 0
    counts = result.counts()
    record_counts(
        {
            "links": [report.model_dump() for report in result.reports],
            "crawl_seconds": result.seconds,
            "browsers_started": browsers,
            "sources": [outcome.discovery.model_dump() for outcome in result.sources],
        },
        **counts,
    )
    logger.info(
        "links: {} crawled, {} skipped, {} failed; documents: {} new, {} updated ({:.1f}s)",
        counts["links_crawled"],
        counts["links_skipped"],
        counts["links_failed"],
        counts.get("documents_inserted", 0),
        counts.get("documents_updated", 0),
        result.seconds,
    )
    reports = result.reports
    if reports and all(report.status == "failed" for report in reports):
        reasons = "; ".join(f"{r.link}: {r.message}" for r in reports[:5])
        raise AllLinksFailed(f"every link failed ({len(reports)}): {reasons}")
    return result
