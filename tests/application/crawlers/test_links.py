"""Link hygiene: normalisation, schemes, and the private-network policy."""

import pytest

from llm_twin.application.crawlers.base import CrawlError
from llm_twin.application.crawlers.links import (
    check_host_allowed,
    is_public_address,
    normalize_link,
)


def test_normalize_strips_fragment_and_lowercases_host() -> None:
    assert normalize_link("  HTTPS://Example.COM/Post?a=1#comments ") == (
        "https://example.com/Post?a=1"
    )
    assert normalize_link("https://example.com") == "https://example.com/"


@pytest.mark.parametrize(
    ("link", "reason"),
    [
        ("ftp://example.com/file", "unsupported_scheme"),
        ("file:///etc/passwd", "unsupported_scheme"),
        ("javascript:alert(1)", "unsupported_scheme"),
        ("example.com/no-scheme", "invalid_link"),
        ("https://", "invalid_link"),
    ],
)
def test_bad_links_are_refused_with_a_reason(link: str, reason: str) -> None:
    with pytest.raises(CrawlError) as error:
        normalize_link(link)
    assert error.value.reason == reason


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "10.1.2.3", "192.168.0.10", "169.254.169.254", "::1", "fd00::1"]
)
def test_private_addresses_are_not_public(address: str) -> None:
    assert not is_public_address(address)


def test_loopback_is_refused_unless_allowed() -> None:
    with pytest.raises(CrawlError) as error:
        check_host_allowed("http://127.0.0.1:8765/page", allow_private=False)
    assert error.value.reason == "private_network"
    assert "CRAWL_ALLOW_PRIVATE_NETWORKS" in str(error.value)
    with pytest.raises(CrawlError):
        check_host_allowed("http://localhost/page", allow_private=False)
    check_host_allowed("http://127.0.0.1:8765/page", allow_private=True)


def test_public_address_is_allowed() -> None:
    # An IP literal resolves without DNS, so this stays offline.
    check_host_allowed("https://8.8.8.8/", allow_private=False)
