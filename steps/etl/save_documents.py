"""ETL step: save crawled documents into the warehouse (upsert by link)."""

from typing import Annotated

from zenml import step

from llm_twin.application.crawlers import CrawlBatch
from llm_twin.application.crawlers.saving import save_documents as save_to_warehouse
from llm_twin.infrastructure.db.mongo import open_warehouse
from steps.metadata import record_counts


# Never cached: what is new depends on the warehouse's current content.
@step(enable_cache=False)
def save_documents(batch: CrawlBatch) -> Annotated[dict[str, int], "saved"]:
    """Upsert the crawled documents by link (unchanged ones are left alone).

    Args:
        batch: The crawl step's output.
    """
    with open_warehouse() as warehouse:
        counts = save_to_warehouse(warehouse, batch.content_documents())
    record_counts(None, **counts)
    return counts
