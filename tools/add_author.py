"""Add an author's body of work from one URL per place they write.

    python -m tools.add_author --name "Ada Lovelace" https://ada.blog/ https://ada.substack.com/ \
        https://medium.com/@ada https://github.com/ada      # or: poe add-author --name ... URL…

Each URL is a root: its sitemap, archive API, feed and archive pages (GitHub: the account's
public non-fork repositories) are read, and every article found is crawled by its platform's
crawler and saved, in checkpoints, into the warehouse. Stored links are never fetched again, so
a second run adds only what is new and an interrupted run resumes where it stopped. A URL under
which nothing is listed is crawled as a single page.

stderr gets one block per source (discovered / stored / skipped / failed, with reasons); stdout
carries exactly one JSON line, shaped like ``tools.run``'s: ``{"pipeline": "add_author",
"run_id": null, "status", "duration_s", "counts", "sources"}``. Exit status 1 when nothing
worked (every source or every link failed), 2 on bad arguments.
"""

import json
import sys
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tools.run import stdout_to_stderr

if TYPE_CHECKING:
    from llm_twin.application.crawlers.ingest import IngestResult

app = typer.Typer(add_completion=False, no_args_is_help=True)


def parse_platforms(assignments: list[str]) -> tuple[tuple[str, str], ...]:
    """``["PREFIX=PLATFORM", ...]`` as pairs.

    Raises:
        typer.BadParameter: an assignment without ``=``.
    """
    pairs = []
    for assignment in assignments:
        prefix, separator, platform = assignment.rpartition("=")
        if not separator or not prefix or not platform:
            raise typer.BadParameter(f"{assignment!r}: expected URL_PREFIX=PLATFORM")
        pairs.append((prefix, platform))
    return tuple(pairs)


def describe(result: "IngestResult") -> str:
    """The per-source report a person reads."""
    lines = []
    for outcome in result.sources:
        source = outcome.discovery
        lines.append(f"{source.root}  [{source.kind}, via {source.method or 'nothing'}]")
        if source.error:
            lines.append(f"  failed: {source.error}")
            continue
        skipped = ", ".join(f"{n} {reason}" for reason, n in sorted(source.skipped.items()))
        lines.append(
            f"  discovered {source.discovered}: {source.already_stored} already stored, "
            f"{source.new} to crawl, {source.over_budget} over budget (next run)"
        )
        lines.append(f"  left out: {skipped or 'nothing'}")
        failed = ", ".join(f"{n} {reason}" for reason, n in sorted(outcome.failed.items()))
        lines.append(f"  crawled {outcome.crawled}, failed {sum(outcome.failed.values())}"
                     + (f" ({failed})" if failed else ""))  # fmt: skip
        lines.extend(f"    {failure}" for failure in outcome.failures)
    saved = result.saved
    lines.append(
        f"saved: {saved.get('documents_inserted', 0)} new, {saved.get('documents_updated', 0)} "
        f"updated, {saved.get('documents_unchanged', 0)} unchanged ({result.seconds:.1f}s)"
    )
    return "\n".join(lines)


def run_add_author(
    name: str,
    urls: list[str],
    overrides: dict[str, Any],
    platforms: tuple[tuple[str, str], ...],
    force: bool,
    concurrency: int,
) -> "IngestResult":
    """Discover, crawl and save ``urls`` for the author ``name``; return what was done.

    Args:
        name: The author's full name (the warehouse user, created if new).
        urls: Root URLs (or single pages).
        overrides: Discovery options given on the command line (``max_pages``, ``delay_s``,
            ``github_web_url``, ``github_api_url``); the others come from the settings.
        platforms: ``(URL prefix, platform)`` routing.
        force: Re-crawl pages already stored.
        concurrency: Pages crawled at once.
    """
    import dataclasses

    from llm_twin.application.crawlers import Author, build_dispatcher
    from llm_twin.application.crawlers.discovery import DiscoveryOptions
    from llm_twin.application.crawlers.ingest import ingest
    from llm_twin.application.crawlers.politeness import HostThrottle
    from llm_twin.infrastructure.db.mongo import open_warehouse
    from llm_twin.settings import get_settings

    settings = get_settings()
    options = dataclasses.replace(
        DiscoveryOptions.from_settings(settings, dict(platforms)), **overrides
    )
    with (
        open_warehouse(settings) as warehouse,
        build_dispatcher(settings, HostThrottle(delay_s=options.delay_s)) as dispatcher,
    ):
        for prefix, platform in platforms:
            dispatcher.override(prefix, platform)
        user, _ = warehouse.users.get_or_create(name)
        author = Author(id=user.id, full_name=user.full_name)
        return ingest(urls, author, warehouse, dispatcher, options, force=force,
                      concurrency=concurrency)  # fmt: skip


@app.command()
def main(
    urls: Annotated[list[str], typer.Argument(help="Root URLs: blog, Substack, Medium, GitHub…")],
    name: Annotated[str, typer.Option("--name", help="The author's full name")],
    max_pages: Annotated[
        int | None,
        typer.Option(min=1, help="New pages crawled at most per source and run [CRAWL_MAX_PAGES]"),
    ] = None,
    delay_s: Annotated[
        float | None,
        typer.Option(
            "--delay", min=0.0, help="Seconds between requests to one host [CRAWL_DELAY_S]"
        ),
    ] = None,
    platform: Annotated[
        list[str] | None,
        typer.Option(help="URL_PREFIX=PLATFORM for a platform on its own domain (repeatable)"),
    ] = None,
    github_web_url: Annotated[
        str | None, typer.Option(help="Where GitHub accounts live [GITHUB_WEB_URL]")
    ] = None,
    github_api_url: Annotated[
        str | None, typer.Option(help="GitHub REST API base URL [GITHUB_API_URL]")
    ] = None,
    force: Annotated[bool, typer.Option(help="Re-crawl pages already stored")] = False,
    concurrency: Annotated[int, typer.Option(min=1, max=8, help="Pages crawled at once")] = 2,
) -> None:
    """Discover and store everything NAME wrote under the given URLs."""
    if not name.strip():
        raise typer.BadParameter("must not be empty", param_hint="--name")
    platforms = parse_platforms(platform or [])
    given = {
        "max_pages": max_pages,
        "delay_s": delay_s,
        "github_web_url": github_web_url,
        "github_api_url": github_api_url,
    }
    overrides = {key: value for key, value in given.items() if value is not None}
    from llm_twin.logs import configure_logging
    from llm_twin.settings import apply_offline_defaults

    apply_offline_defaults()
    configure_logging()
    started = time.perf_counter()
    with stdout_to_stderr() as stdout:
        summary: dict[str, Any] = {"pipeline": "add_author", "run_id": None}
        try:
            result = run_add_author(name, urls, overrides, platforms, force, concurrency)
        except Exception as error:
            summary.update(status="failed", duration_s=None, counts={},
                           error=f"{type(error).__name__}: {error}")  # fmt: skip
            print(json.dumps(summary), file=stdout, flush=True)
            raise
        print(describe(result), file=sys.stderr, flush=True)
        summary.update(
            status="failed" if result.failed else "completed",
            duration_s=round(time.perf_counter() - started, 2),
            counts=result.counts(),
            sources=[outcome.model_dump() for outcome in result.sources],
        )
        print(json.dumps(summary), file=stdout, flush=True)
    if result.failed:
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
