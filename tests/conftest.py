"""Shared fixtures: an embedded warehouse server, isolated settings, ZenML state in a temp dir.

The warehouse tests run against the embedded nx-27017 server always, and also against the
MongoDB named by ``LLM_TWIN_TEST_MONGO_URI`` when that variable is set.
"""

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from llm_twin.application.warehouse_json import SAMPLE_DIR

EXTERNAL_MONGO_ENV = "LLM_TWIN_TEST_MONGO_URI"


def pytest_configure(config: pytest.Config) -> None:
    # Keep every test process offline and quiet, whatever the developer's shell has.
    os.environ.setdefault("ZENML_ANALYTICS_OPT_IN", "false")
    os.environ.setdefault("ZENML_AUTO_OPEN_DASHBOARD", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("OPIK_TRACK_DISABLE", "true")
    os.environ.setdefault("COMET_START_ONLINE", "false")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # ZenML reads its config path once, at import: isolate it before any test imports zenml.
    os.environ["ZENML_CONFIG_PATH"] = tempfile.mkdtemp(prefix="llm-twin-zenml-")


@pytest.fixture(scope="session")
def sample_warehouse_dir() -> Path:
    """The shared sample corpus (76 articles, 2 users)."""
    if not (SAMPLE_DIR / "ArticleDocument.json").is_file():
        pytest.fail(f"sample corpus missing at {SAMPLE_DIR}")
    return SAMPLE_DIR


@pytest.fixture(scope="session")
def embedded_mongo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real embedded warehouse server for the whole test session; yields its URI."""
    from llm_twin.infrastructure.db.embedded_mongo import EmbeddedMongo

    server = EmbeddedMongo(tmp_path_factory.mktemp("warehouse"))
    running = server.ensure_running()
    yield running.uri
    server.stop()


def _mongo_backends() -> list:
    params = [pytest.param("embedded", id="embedded")]
    external = os.environ.get(EXTERNAL_MONGO_ENV)
    params.append(
        pytest.param(
            external,
            id="external",
            marks=pytest.mark.skipif(
                not external, reason=f"set {EXTERNAL_MONGO_ENV} to also test a real MongoDB"
            ),
        )
    )
    return params


@pytest.fixture(params=_mongo_backends())
def mongo_uri(request: pytest.FixtureRequest, embedded_mongo: str) -> str:
    """URI of each warehouse backend under test."""
    return embedded_mongo if request.param == "embedded" else request.param


@pytest.fixture
def warehouse(mongo_uri: str) -> Iterator:
    """A :class:`Warehouse` on a fresh database (dropped afterwards)."""
    from llm_twin.infrastructure.db.mongo import connect
    from llm_twin.infrastructure.db.warehouse import Warehouse

    client = connect(mongo_uri)
    name = f"test_{uuid.uuid4().hex[:12]}"
    yield Warehouse(client[name])
    client.drop_database(name)
    client.close()


@pytest.fixture
def settings_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedded_mongo: str
) -> Iterator[Path]:
    """Point the project's settings at a temp DATA_DIR and the test warehouse server.

    Yields the DATA_DIR. ``get_settings`` is cleared before and after.
    """
    from llm_twin.settings import get_settings

    data_dir = tmp_path / "data"
    monkeypatch.setenv("DATA_DIR", str(data_dir))
    monkeypatch.setenv("DATABASE_HOST", embedded_mongo)
    monkeypatch.setenv("DATABASE_NAME", f"test_{uuid.uuid4().hex[:12]}")
    monkeypatch.delenv("QDRANT_URL", raising=False)
    get_settings.cache_clear()
    yield data_dir
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def zenml_store() -> Path:
    """The isolated ZenML state folder of this test session (set in ``pytest_configure``)."""
    return Path(os.environ["ZENML_CONFIG_PATH"])


CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture
def browser():
    """Headless Debian Chromium driven by Selenium (skipped when it is not installed); the
    flags keep it off the network (127.0.0.1 pages only) and in a throwaway profile."""
    if not shutil.which(CHROMIUM) or not shutil.which(CHROMEDRIVER):
        pytest.skip(
            f"{CHROMIUM} and {CHROMEDRIVER} are needed (apt-get install chromium chromium-driver)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="llm-twin-chromium-")
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,800",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)
