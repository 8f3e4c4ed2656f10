"""Digital data ETL: collect a user's content into the warehouse.

get or create the user → crawl the links, saving the documents in checkpoints as they are
crawled (a killed run resumes without fetching what it stored). Configs live in
``configs/digital_data_etl_*.yaml`` (see :class:`~pipelines.configs.DigitalDataEtlConfig`).
"""

from typing import Any

from zenml import pipeline

from pipelines.configs import DigitalDataEtlConfig
from steps.etl.crawl_links import crawl_links
from steps.etl.get_or_create_user import get_or_create_user


@pipeline
def digital_data_etl(config: DigitalDataEtlConfig, wait_for: list[Any] | None = None) -> Any:
    """Collect the links written by ``config.user_full_name`` into the warehouse.

    Args:
        config: The author and the links (``configs/digital_data_etl_*.yaml``).
        wait_for: Steps to wait for when composed into another pipeline (``end_to_end_data``).

    Returns:
        The crawl step's output (what a composing pipeline waits for).
    """
    user = get_or_create_user(config.user_full_name, after=wait_for)
    return crawl_links(user=user, config=config)
