"""The ETL pipeline with root URLs (`tools/run.py digital_data_etl`): a blog, a Substack-like
publication and a GitHub-like account each become all their articles/repositories, stored
once; a second run discovers them again and stores and fetches nothing."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from llm_twin.domain.exceptions import InvalidInput
from llm_twin.settings import Settings
from pipelines.configs import DigitalDataEtlConfig, validate_config
from tools.fixture_site import FixtureSite

ROOT = Path(__file__).resolve().parents[2]


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


def run_etl(config: Path, env: dict) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "tools.run", "digital_data_etl", "--config", str(config)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1, result.stdout
    return json.loads(lines[0])


def test_root_urls_fill_the_warehouse_once(env, site, tmp_path) -> None:
    config = tmp_path / "etl.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "parameters": {
                    "user_full_name": "Jane Doe",
                    "links": [
                        site.url("janeblog/"),
                        site.url("substack/"),
                        site.url("gh/jane-doe"),
                    ],
                    "platforms": {site.url("substack/"): "substack"},
                    "discovery": {
                        "github_web_url": site.url("gh/"),
                        "github_api_url": site.url("gh-api"),
                        "delay_s": 0.01,
                    },
                }
            }
        )
    )
    first = run_etl(config, env)["counts"]
    assert (first["sources_total"], first["sources_failed"]) == (3, 0)
    assert first["links_discovered"] == 5 + 4 + 2
    assert first["links_crawled"] == 11 and first["links_failed"] == 0
    assert first["articles_inserted"] == 9 and first["repositories_inserted"] == 2

    before = len(site.requested)
    second = run_etl(config, env)["counts"]
    assert second["discovered_already_stored"] == 11
    assert second["links_total"] == 0
    assert second.get("documents_inserted", 0) == 0
    assert not [path for path in site.requested[before:] if "/p/" in path or "/20" in path]


def test_discovery_options_from_the_config_over_the_settings_reject_unknown_keys() -> None:
    settings = Settings(CRAWL_MAX_LISTING_PAGES=7, GITHUB_API_URL="http://127.0.0.1:1/api")

    def config(discovery: dict) -> DigitalDataEtlConfig:
        values = {"user_full_name": "Jane", "platforms": {"https://a/": "x"}}
        return validate_config(DigitalDataEtlConfig, {**values, "discovery": discovery}, "etl")

    options = config({"max_pages": 3, "delay_s": 0.5}).discovery_options(settings)
    assert (options.max_pages, options.delay_s) == (3, 0.5)
    assert options.platforms == (("https://a/", "x"),)
    # Unset keys take the settings.
    assert options.max_listing_pages == 7
    assert options.github_api_url == "http://127.0.0.1:1/api"
    with pytest.raises(InvalidInput, match="max_page"):
        config({"max_page": 3})
    with pytest.raises(InvalidInput):
        config({"max_pages": 0})
