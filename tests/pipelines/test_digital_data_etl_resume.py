"""Issue 19: the ETL pipeline killed with SIGKILL while it crawls a blog, then run again, stores
every article once and never fetches again a page the killed run had stored (the crawl step
saves as it goes; stored links are dropped before fetching, discovered ones included)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.application.crawlers.test_discovery import BLOG_POSTS
from tools.fixture_site import FixtureSite

ROOT = Path(__file__).resolve().parents[2]
#: Seconds between two requests to the fixture host: slow enough to kill the run mid-crawl.
DELAY_S = 1.5


@pytest.fixture(scope="module")
def site():
    with FixtureSite(slow_seconds=5) as running:
        yield running


@pytest.fixture
def env(settings_env, zenml_store, monkeypatch):
    monkeypatch.setenv("CRAWL_ALLOW_PRIVATE_NETWORKS", "true")
    monkeypatch.setenv("CRAWL_TIMEOUT_S", "10")
    monkeypatch.setenv("CRAWL_RETRIES", "1")
    return dict(os.environ)


def _articles_requested(requested: list[str]) -> list[str]:
    return [path for path in requested if path.lstrip("/") in BLOG_POSTS]


def _stored_links() -> list[str]:
    from llm_twin.infrastructure.db.mongo import open_warehouse
    from llm_twin.settings import get_settings

    get_settings.cache_clear()
    with open_warehouse() as warehouse:
        return sorted(warehouse.articles.links())


def test_killed_run_resumes_without_refetching_stored_pages(env, site, tmp_path) -> None:
    config = tmp_path / "etl.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "parameters": {
                    "user_full_name": "Jane Doe",
                    "links": [site.url("janeblog/")],
                    "concurrency": 1,
                    "discovery": {"delay_s": DELAY_S},
                }
            }
        )
    )
    command = [sys.executable, "-m", "tools.run", "digital_data_etl", "--config", str(config)]
    start = len(site.requested)
    killed = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 300
    # Article pages come DELAY_S apart; the crawl saves at the first page done 2 s after its
    # last save, so the first two are stored well before the 4th page is requested.
    while len(_articles_requested(site.requested[start:])) < 4:
        if killed.poll() is not None:
            pytest.fail(f"the run ended before it could be killed: {killed.stderr.read()[-3000:]}")
        assert time.monotonic() < deadline, "the crawl did not reach the 4th article"
        time.sleep(0.05)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait(timeout=30)
    killed.stderr.close()
    fetched_first = _articles_requested(site.requested[start:])
    stored_first = _stored_links()
    assert 1 <= len(stored_first) < len(BLOG_POSTS), stored_first

    middle = len(site.requested)
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    counts = json.loads(result.stdout.strip().splitlines()[-1])["counts"]
    assert counts["discovered_already_stored"] == len(stored_first)
    assert counts["documents_inserted"] == len(BLOG_POSTS) - len(stored_first)
    assert _stored_links() == sorted(site.url(path) for path in BLOG_POSTS)
    fetched_again = _articles_requested(site.requested[middle:])
    assert not {site.base_url + path for path in fetched_again} & set(stored_first)
    assert len(fetched_again) == len(set(fetched_again)) == len(BLOG_POSTS) - len(stored_first)
    print(f"resume: killed run fetched {len(fetched_first)} articles and stored "
          f"{len(stored_first)}; the re-run fetched {len(fetched_again)}, stored "
          f"{counts['documents_inserted']}")  # fmt: skip
