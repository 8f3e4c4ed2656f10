"""Extraction quality on the project's own fixture pages: token F1 of the extracted text against
the hand-written expected body (``tests/fixtures/sites/expected/``).

    python -m bench.extraction_quality            # static pages + the Medium page in Chromium

Tokens are lower-cased word characters (``\\w+``), compared as multisets, so Markdown symbols
neither help nor hurt; a second figure compares whitespace-separated tokens, symbols included.
Printed for comparison: trafilatura's defaults and the page's whole text (no extraction).
"""

import json
import os
import re
import time
import uuid
from collections import Counter
from pathlib import Path

SITE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "sites"
MANIFEST = SITE / "expected" / "manifest.json"


def token_f1(predicted: str, expected: str, pattern: str = r"\w+") -> float:
    """F1 of the token multisets of ``predicted`` and ``expected``."""
    pred = Counter(re.findall(pattern, predicted.lower()))
    gold = Counter(re.findall(pattern, expected.lower()))
    overlap = sum((pred & gold).values())
    if not overlap:
        return 0.0
    precision = overlap / sum(pred.values())
    recall = overlap / sum(gold.values())
    return 2 * precision * recall / (precision + recall)


def browser_texts(pages: list[str]) -> dict[str, str]:
    """Text the Medium crawler stores for ``pages``, crawled from the fixture site in Chromium."""
    os.environ.setdefault("CRAWL_ALLOW_PRIVATE_NETWORKS", "true")
    from llm_twin.application.crawlers import Author, build_dispatcher
    from llm_twin.settings import get_settings
    from tools.fixture_site import FixtureSite

    get_settings.cache_clear()
    texts = {}
    with FixtureSite() as site, build_dispatcher(get_settings()) as dispatcher:
        dispatcher.override(site.url("medium/"), "medium")
        author = Author(uuid.uuid4(), "Jane Doe")
        for page in pages:
            link = site.url(page)
            (document,) = dispatcher.route(link).crawler.crawl(link, author)
            texts[page] = document.content["Content"]
    return texts


def main() -> None:
    import lxml.html
    import trafilatura

    from llm_twin.application.crawlers.browser import chromium_available
    from llm_twin.application.crawlers.extraction import extract_article
    from llm_twin.settings import get_settings

    manifest = json.loads(MANIFEST.read_text())
    static = [page for page, item in manifest.items() if not item["browser"]]
    dynamic = [page for page, item in manifest.items() if item["browser"]]
    rows = []
    started = time.perf_counter()
    for page in static:
        html = (SITE / page).read_bytes()
        expected = (SITE / "expected" / manifest[page]["expected"]).read_text()
        ours = extract_article(html, url=f"https://example.com/{page}")
        default = trafilatura.extract(html) or ""
        whole = lxml.html.fromstring(html).text_content()
        rows.append((page, ours.text if ours else "", default, whole, expected))
    static_s = time.perf_counter() - started
    problem = chromium_available(get_settings())
    if problem:
        print(f"skipping browser pages: {problem}")
    else:
        for page, text in browser_texts(dynamic).items():
            expected = (SITE / "expected" / manifest[page]["expected"]).read_text()
            rows.append((page, text, "", "", expected))
    print(f"{'page':55} {'F1 words':>9} {'F1 ws':>7} {'traf.def':>9} {'whole':>6}")
    totals = Counter()
    for page, ours, default, whole, expected in rows:
        f1, f1_ws = token_f1(ours, expected), token_f1(ours, expected, r"\S+")
        base = f"{token_f1(default, expected):9.3f}" if default else f"{'-':>9}"
        full = f"{token_f1(whole, expected):6.3f}" if whole else f"{'-':>6}"
        print(f"{page:55} {f1:9.3f} {f1_ws:7.3f} {base} {full}")
        totals["f1"] += f1
        totals["f1_ws"] += f1_ws
    n = len(rows)
    print(
        f"{'mean over ' + str(n) + ' pages':55} {totals['f1'] / n:9.3f} {totals['f1_ws'] / n:7.3f}"
    )
    print(f"static extraction time: {static_s / max(1, len(static)) * 1000:.0f} ms/page")


if __name__ == "__main__":
    main()
