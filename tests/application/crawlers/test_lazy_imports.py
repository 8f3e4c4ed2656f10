"""Importing the crawlers and their CLIs loads no browser driver, extractor or HTTP client."""

import json
import subprocess
import sys

MODULES = [
    "llm_twin.application.crawlers",
    "llm_twin.application.crawlers.saving",
    "tools.extract_article",
    "tools.fixture_site",
]
HEAVY = ["selenium", "trafilatura", "requests", "zenml", "lxml"]


def test_crawler_modules_import_nothing_heavy() -> None:
    probe = (
        "import json, sys\n"
        f"for name in {MODULES!r}: __import__(name)\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
