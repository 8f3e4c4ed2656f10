"""The GitHub/git crawler: a shallow clone over real smart HTTP from the fixture site."""

import os
import subprocess

import pytest

from llm_twin.application.crawlers.base import CrawlError
from llm_twin.application.crawlers.github import GithubCrawler, repository_location
from llm_twin.domain.documents import RepositoryDocument
from tools.fixture_site import SITE_ROOT

REPO = "git/twin-toolkit.git"


def test_repository_is_collected_with_files_intact(site, settings, author) -> None:
    cwd = os.getcwd()
    (document,) = GithubCrawler(settings).crawl(site.url(REPO), author)
    assert os.getcwd() == cwd
    assert isinstance(document, RepositoryDocument)
    assert document.name == "git/twin-toolkit"
    assert document.platform == "git"
    head = subprocess.run(
        ["git", "ls-remote", site.url(REPO), "HEAD"], capture_output=True, text=True, check=True
    ).stdout.split()[0]
    assert document.commit == head
    files = document.content["files"]
    assert sorted(files) == [
        "README.md",
        "docs/usage.md",
        "src/toolkit/__init__.py",
        "src/toolkit/chunking.py",
        "src/toolkit/fusion.py",
    ]
    # Byte-exact: tabs, indentation, blank lines and the final newline survive.
    source = SITE_ROOT / "git" / "twin-toolkit"
    for path in files:
        assert files[path] == (source / path).read_text(encoding="utf-8")
    assert "\tscores = {}" in files["src/toolkit/fusion.py"]
    assert "(k + rank)  \n" in files["src/toolkit/fusion.py"]  # trailing spaces kept


def test_size_limit_skips_large_files(site, settings_with, author) -> None:
    (document,) = GithubCrawler(settings_with(GITHUB_MAX_FILE_BYTES=150)).crawl(
        site.url(REPO), author
    )
    files = document.content["files"]
    assert "src/toolkit/__init__.py" in files
    assert "src/toolkit/fusion.py" not in files


def test_missing_repository_fails_cleanly(site, settings, author) -> None:
    with pytest.raises(CrawlError) as error:
        GithubCrawler(settings).crawl(site.url("git/no-such-repo.git"), author)
    assert error.value.reason == "clone_failed"


def test_private_network_refused_by_default(site, settings_with, author) -> None:
    with pytest.raises(CrawlError) as error:
        GithubCrawler(settings_with(CRAWL_ALLOW_PRIVATE_NETWORKS=False)).crawl(
            site.url(REPO), author
        )
    assert error.value.reason == "private_network"


@pytest.mark.parametrize(
    ("link", "clone_url", "name"),
    [
        ("https://github.com/jane/toolkit", "https://github.com/jane/toolkit.git", "jane/toolkit"),
        (
            "https://github.com/jane/toolkit/tree/main/src",
            "https://github.com/jane/toolkit.git",
            "jane/toolkit",
        ),
        (
            "git://example.org/team/toolkit.git",
            "git://example.org/team/toolkit.git",
            "team/toolkit",
        ),
    ],
)
def test_repository_location(link: str, clone_url: str, name: str) -> None:
    assert repository_location(link) == (clone_url, name)


def test_github_link_without_repository() -> None:
    with pytest.raises(CrawlError) as error:
        repository_location("https://github.com/jane")
    assert error.value.reason == "invalid_link"
