"""Digital data ETL: collect a user's content into the warehouse.

get or create the user → crawl the links → save the documents. Configs live in
``configs/digital_data_etl_*.yaml`` (``user_full_name``, ``links``, optional ``force``,
``platforms``, ``concurrency``, ``discovery``).
"""

from typing import Any

from zenml import pipeline

from steps.etl.crawl_links import crawl_links
from steps.etl.get_or_create_user import get_or_create_user
from steps.etl.save_documents import save_documents


@pipeline
def digital_data_etl(
    user_full_name: str,
    links: list[str] | None = None,
    force: bool = False,
    platforms: dict[str, str] | None = None,
    concurrency: int | None = None,
    discovery: dict[str, Any] | None = None,
    wait_for: list[Any] | None = None,
) -> Any:
    """Collect ``links`` written by ``user_full_name`` into the warehouse.

    Args:
        user_full_name: The author's full name, e.g. ``"Maxime Labonne"``.
        links: Article, LinkedIn profile and repository URLs (default: none).
        force: Re-crawl links already in the warehouse (changed content is updated in place).
        platforms: ``{URL prefix: platform}`` routing a custom domain to a platform crawler
            (``medium``, ``substack``, ``linkedin``, ``github``, ``git``, ``custom``).
        concurrency: Links crawled at once; default the ``CRAWL_CONCURRENCY`` setting.
        discovery: Root-URL discovery options (``max_pages`` per source, ``delay_s`` between
            requests to a host, ``github_api_url``/``github_web_url``); a root URL (a blog's
            home, a Substack, a Medium profile, a GitHub account) stands for all it lists.
        wait_for: Steps to wait for when composed into another pipeline (``end_to_end_data``).

    Returns:
        The save step's output (what a composing pipeline waits for).
    """
    user = get_or_create_user(user_full_name, after=wait_for)
    batch = crawl_links(
        user=user,
        links=list(links or []),
        force=force,
        platforms=dict(platforms or {}),
        concurrency=concurrency,
        discovery=dict(discovery or {}),
    )
    return save_documents(batch)
