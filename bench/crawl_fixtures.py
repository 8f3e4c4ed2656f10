"""Crawl benchmark on the fixture sites (127.0.0.1): one root URL per fixture, run twice, then a
run interrupted after a few pages and resumed.

    python -m bench.crawl_fixtures            # embedded warehouse in a temp folder
    python -m bench.crawl_fixtures --medium   # also the Medium-like profile (needs Chromium)

Per fixture and run: pages discovered, new (handed to the crawler), already stored, stored,
failed, and the requests the fixture site answered (all of them, and article pages only),
with the time per crawled page. Prints one JSON object.
"""

import argparse
import json
import tempfile
import time
import uuid
from pathlib import Path

from llm_twin.application.crawlers import Author, build_dispatcher
from llm_twin.application.crawlers.discovery import DiscoveryOptions
from llm_twin.application.crawlers.ingest import IngestResult, ingest
from llm_twin.infrastructure.db.embedded_mongo import EmbeddedMongo
from llm_twin.infrastructure.db.mongo import connect
from llm_twin.infrastructure.db.warehouse import Warehouse
from llm_twin.logs import configure_logging
from llm_twin.settings import Settings
from tools.fixture_site import FixtureSite

#: root path, article path prefixes (what counts as an article page fetch).
FIXTURES = {
    "blog": ("janeblog/", ("/janeblog/20",)),
    "substack": ("substack/", ("/substack/p/",)),
    "github": ("gh/jane-doe", ("/git/",)),
    # Story pages only (the profile and its feed live under the same prefix).
    "medium": (
        "medium/jane-doe/",
        tuple(
            f"/medium/jane-doe/{name}.html"
            for name in (
                "tracing-every-tool-call",
                "why-your-agent-needs-a-budget",
                "a-note-on-evals-for-agents",
            )
        ),
    ),
}


class _Stop(BaseException):
    """Ends the interrupted run where a kill would."""


def _options(site: FixtureSite) -> DiscoveryOptions:
    return DiscoveryOptions(
        github_web_url=site.url("gh/"),
        github_api_url=site.url("gh-api"),
        platforms=((site.url("substack/"), "substack"), (site.url("medium/"), "medium")),
        delay_s=0.0,
    )


def _ingest(site: FixtureSite, settings: Settings, warehouse: Warehouse, root: str,
            **kwargs: object) -> IngestResult:  # fmt: skip
    options = _options(site)
    author = Author(id=warehouse.users.get_or_create("Jane Doe")[0].id, full_name="Jane Doe")
    with build_dispatcher(settings) as dispatcher:
        for prefix, platform in options.platforms:
            dispatcher.override(prefix, platform)
        return ingest([site.url(root)], author, warehouse, dispatcher, options, **kwargs)


def _figures(result: IngestResult, requested: list[str], prefixes: tuple[str, ...]) -> dict:
    counts = result.counts()
    articles = [path for path in requested if path.startswith(prefixes)]
    crawled = counts["links_crawled"]
    return {
        "discovered": counts["links_discovered"],
        "new": counts["links_total"],
        "already_stored": counts["discovered_already_stored"],
        "stored": counts.get("documents_inserted", 0),
        "failed": counts["links_failed"],
        "requests": len(requested),
        "article_requests": len(articles),
        "seconds": result.seconds,
        "s_per_crawled_page": round(result.seconds / crawled, 3) if crawled else None,
    }


def _resume(site: FixtureSite, settings: Settings, warehouse: Warehouse, after: int) -> dict:
    """Blog: stop while fetching article ``after + 1``, then run again."""
    from llm_twin.application.crawlers.custom_article import CustomArticleCrawler

    real, seen = CustomArticleCrawler.crawl, []

    def crawl_then_stop(self: CustomArticleCrawler, link: str, author: Author) -> list:
        if len(seen) == after:
            raise _Stop
        seen.append(link)
        return real(self, link, author)

    start = len(site.requested)
    CustomArticleCrawler.crawl = crawl_then_stop  # type: ignore[method-assign]
    try:
        _ingest(site, settings, warehouse, "janeblog/", concurrency=1, checkpoint=2,
                checkpoint_s=3600)  # fmt: skip
    except _Stop:
        pass
    finally:
        CustomArticleCrawler.crawl = real  # type: ignore[method-assign]
    stored = len(warehouse.articles.links())
    middle = len(site.requested)
    result = _ingest(site, settings, warehouse, "janeblog/", checkpoint=2)
    prefixes = FIXTURES["blog"][1]

    def articles(requested: list[str]) -> int:
        return len([path for path in requested if path.startswith(prefixes)])

    return {
        "interrupted": {
            "articles_fetched": articles(site.requested[start:middle]),
            "stored": stored,
        },
        "resumed": _figures(result, site.requested[middle:], prefixes),
        "article_fetches_in_all": articles(site.requested[start:]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--medium", action="store_true", help="include the Chromium fixture")
    args = parser.parse_args()
    configure_logging("WARNING")
    settings = Settings(_env_file=None, CRAWL_ALLOW_PRIVATE_NETWORKS=True, CRAWL_RETRIES=1)
    report: dict = {}
    with tempfile.TemporaryDirectory() as folder, FixtureSite() as site:
        server = EmbeddedMongo(Path(folder))
        client = connect(server.ensure_running().uri)
        try:
            for name, (root, prefixes) in FIXTURES.items():
                if name == "medium" and not args.medium:
                    continue
                warehouse = Warehouse(client[f"bench_{uuid.uuid4().hex[:8]}"])
                runs = []
                for _ in range(2):
                    start = len(site.requested)
                    result = _ingest(site, settings, warehouse, root)
                    runs.append(_figures(result, site.requested[start:], prefixes))
                report[name] = {"first": runs[0], "second": runs[1]}
            warehouse = Warehouse(client[f"bench_{uuid.uuid4().hex[:8]}"])
            report["blog_resume_after_3"] = _resume(site, settings, warehouse, after=3)
        finally:
            client.close()
            server.stop()
    report["at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
