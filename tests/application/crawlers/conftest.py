"""Fixtures for crawler tests: the fixture site on 127.0.0.1, crawl settings, Chromium."""

import uuid
from collections.abc import Iterator

import pytest

from llm_twin.application.crawlers import Author
from llm_twin.application.crawlers.browser import chromium_available
from llm_twin.settings import Settings
from tools.fixture_site import FIXTURE_LINKEDIN_PASSWORD, FIXTURE_LINKEDIN_USERNAME, FixtureSite

#: The fixture's /slow/ pages answer after this long; crawls time out well before.
SLOW_SECONDS = 8.0


@pytest.fixture(scope="session")
def site() -> Iterator[FixtureSite]:
    """The fixture site (static pages, JS pages, LinkedIn-like login, git over HTTP)."""
    with FixtureSite(slow_seconds=SLOW_SECONDS) as running:
        yield running


def make_settings(**overrides: object) -> Settings:
    """Settings for crawling the fixture site: private networks allowed, short timeouts."""
    values: dict[str, object] = {
        "CRAWL_ALLOW_PRIVATE_NETWORKS": True,
        "CRAWL_TIMEOUT_S": 10.0,
        "CRAWL_RETRIES": 2,
        "LINKEDIN_USERNAME": FIXTURE_LINKEDIN_USERNAME,
        "LINKEDIN_PASSWORD": FIXTURE_LINKEDIN_PASSWORD,
        "LINKEDIN_MAX_SCROLLS": 5,
    }
    values.update(overrides)
    # _env_file=None: a developer's .env must not change what the tests see.
    return Settings(_env_file=None, **values)


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest.fixture
def settings_with():
    """Factory: crawl settings with some values changed (``settings_with(CRAWL_RETRIES=1)``)."""
    return make_settings


@pytest.fixture
def author() -> Author:
    return Author(id=uuid.uuid4(), full_name="Jane Doe")


@pytest.fixture(scope="session")
def chromium() -> None:
    """Skip (with the reason) only when Chromium is not installed on this machine."""
    problem = chromium_available(Settings(_env_file=None))
    if problem:
        pytest.skip(f"Selenium tests need Chromium: {problem}")
