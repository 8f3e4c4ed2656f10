"""Crawling a list of links: failure isolation, skips, counts, and idempotent saving."""

import shutil
from pathlib import Path

from llm_twin.application.crawlers import build_dispatcher, crawl_links
from llm_twin.application.crawlers.saving import save_documents
from tools.fixture_site import SITE_ROOT, FixtureSite

SUBSTACK = "substack/p/scaling-rag-on-a-laptop.html"
BLOG = "blog/2024/05/notes-on-lora-fine-tuning.html"


def run(site, settings, author, links, known=frozenset(), force=False):
    with build_dispatcher(settings) as dispatcher:
        dispatcher.override(site.url("substack/"), "substack")
        return crawl_links(
            links, author, dispatcher, set(known), force=force, concurrency=3, progress=False
        )


def test_one_bad_link_does_not_stop_the_others(site, settings_with, author) -> None:
    settings = settings_with(CRAWL_TIMEOUT_S=1.0, CRAWL_RETRIES=1)
    links = [
        site.url(SUBSTACK),
        site.url("missing.html"),
        "ftp://example.com/file.txt",
        site.url("slow/page.html"),
        site.url("private/unpublished-draft.html"),
        site.url(BLOG),
        site.url(SUBSTACK) + "#comments",  # the same article again
    ]
    batch = run(site, settings, author, links)
    statuses = [(r.status, r.reason) for r in batch.reports]
    assert statuses == [
        ("crawled", ""),
        ("failed", "http_error"),
        ("failed", "unsupported_scheme"),
        ("failed", "timeout"),
        ("failed", "robots_disallowed"),
        ("crawled", ""),
        ("skipped", "duplicate"),
    ]
    assert [r.link for r in batch.reports] == links
    assert all(r.message for r in batch.reports if r.status != "crawled")
    counts = batch.counts()
    assert counts["links_total"] == 7
    assert counts["links_crawled"] == 2
    assert counts["links_failed"] == 4
    assert counts["links_skipped"] == 1
    assert counts["links_crawled_substack"] == 1
    assert counts["links_crawled_127.0.0.1"] == 1
    assert counts["documents_crawled"] == 2
    assert not batch.all_failed
    assert [d.link for d in batch.content_documents()] == [site.url(SUBSTACK), site.url(BLOG)]


def test_every_link_failing_is_flagged(site, settings, author) -> None:
    batch = run(site, settings, author, [site.url("a.html"), site.url("b.html")])
    assert batch.all_failed
    assert not run(site, settings, author, []).all_failed


def test_known_links_are_skipped_unless_forced(site, settings, author) -> None:
    known = {site.url(SUBSTACK)}
    skipped = run(site, settings, author, [site.url(SUBSTACK), site.url(BLOG)], known)
    assert [r.status for r in skipped.reports] == ["skipped", "crawled"]
    assert skipped.reports[0].reason == "already_crawled"
    forced = run(site, settings, author, [site.url(SUBSTACK)], known, force=True)
    assert [r.status for r in forced.reports] == ["crawled"]


def test_batch_survives_json_round_trip(site, settings, author) -> None:
    batch = run(site, settings, author, [site.url(SUBSTACK)])
    again = type(batch).model_validate_json(batch.model_dump_json())
    assert again.content_documents() == batch.content_documents()


def test_saving_is_idempotent_and_updates_in_place(
    tmp_path: Path, settings, author, warehouse
) -> None:
    root = tmp_path / "site"
    shutil.copytree(SITE_ROOT, root, ignore=shutil.ignore_patterns("git"))
    (root / "git").mkdir()
    with FixtureSite(root=root) as site:
        links = [site.url(SUBSTACK), site.url(BLOG)]
        first = save_documents(warehouse, run(site, settings, author, links).content_documents())
        assert first["documents_inserted"] == 2
        stored = warehouse.articles.get_by_link(site.url(BLOG))

        # Re-crawling unchanged pages changes nothing, not even timestamps.
        again = run(site, settings, author, links, force=True).content_documents()
        second = save_documents(warehouse, again)
        assert second["documents_inserted"] == second["documents_updated"] == 0
        assert second["documents_unchanged"] == 2
        assert warehouse.articles.get_by_link(site.url(BLOG)) == stored

        # The author edits the post: a forced re-crawl updates the same record.
        page = root / BLOG
        page.write_text(page.read_text().replace("plenty", "more than enough"))
        edited = run(site, settings, author, links, force=True).content_documents()
        third = save_documents(warehouse, edited)
        assert third["documents_updated"] == 1 and third["documents_unchanged"] == 1
    updated = warehouse.articles.get_by_link(site.url(BLOG))
    assert updated.id == stored.id
    assert updated.content_hash != stored.content_hash
    assert updated.updated_at > stored.updated_at
    assert "more than enough" in updated.content["Content"]
    assert warehouse.articles.count() == 2
