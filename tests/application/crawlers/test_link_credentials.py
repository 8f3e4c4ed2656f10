"""Issue 18, finding 3: credentials in crawl links are never logged, stored, put in metadata or
returned; an import cleans them from existing records."""

import json

from loguru import logger

from llm_twin.application.crawlers import build_dispatcher, crawl_links

SECRET = "hunter2"


def test_strip_credentials_keeps_everything_else() -> None:
    from llm_twin.application.crawlers.links import normalize_link, strip_credentials

    assert strip_credentials(f"http://user:{SECRET}@host.example/a@b?q=c@d") == (
        "http://host.example/a@b?q=c@d"
    )
    assert strip_credentials(f"git://x:{SECRET}@h/r.git") == "git://h/r.git"
    assert strip_credentials("https://host.example/p?mail=a@b") == "https://host.example/p?mail=a@b"
    assert normalize_link(f"HTTPS://u:{SECRET}@Host.Example:8443/x#f") == (
        "https://host.example:8443/x"
    )


def test_crawled_links_carry_no_credentials(site, settings, author) -> None:
    page = site.url("blog/2024/05/notes-on-lora-fine-tuning.html")
    with_credentials = page.replace("http://", f"http://admin:{SECRET}@")
    missing = site.url("missing.html").replace("http://", f"http://admin:{SECRET}@")
    logged: list[str] = []
    sink = logger.add(logged.append, level="DEBUG")
    try:
        with build_dispatcher(settings) as dispatcher:
            batch = crawl_links(
                [with_credentials, missing], author, dispatcher, set(), progress=False
            )
    finally:
        logger.remove(sink)
    reports = json.dumps([report.model_dump() for report in batch.reports])
    documents = [document.link for document in batch.content_documents()]
    assert documents == [page]
    assert SECRET not in reports and SECRET not in "".join(logged)
    assert [report.status for report in batch.reports] == ["crawled", "failed"]


def test_import_cleans_credentials_from_existing_records(warehouse, sample_warehouse_dir, tmp_path):
    from llm_twin.application.warehouse_json import import_directory

    articles = json.loads((sample_warehouse_dir / "ArticleDocument.json").read_text())[:1]
    articles[0]["link"] = articles[0]["link"].replace("https://", f"https://me:{SECRET}@")
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "ArticleDocument.json").write_text(json.dumps(articles))
    import_directory(warehouse, folder)
    assert SECRET not in json.dumps([doc.link for doc in warehouse.articles.find()])
