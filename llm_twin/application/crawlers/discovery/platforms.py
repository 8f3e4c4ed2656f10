"""Platform listings discovery reads through APIs: GitHub accounts (public, non-fork
repositories), Substack archives, Medium feed locations."""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode, urljoin, urlsplit

from llm_twin.application.crawlers.base import CrawlError
from llm_twin.application.crawlers.http import Page

#: Repositories per API page (GitHub's maximum).
GITHUB_PAGE_SIZE = 100
#: Posts per Substack archive API page.
SUBSTACK_PAGE_SIZE = 12
#: API pages read at most per source.
MAX_API_PAGES = 50
#: Substack audiences whose posts are readable without a subscription.
SUBSTACK_PUBLIC_AUDIENCES = frozenset({"everyone", ""})


@dataclass
class Listing:
    """Links an API listed, with dates, and what it left out.

    Attributes:
        links: ``(url, published YYYY-MM-DD or None)`` in listing order.
        skipped: Items left out by reason (``fork``, ``private``, ``paywalled``, ``not_a_post``).
        pages: API pages read.
    """

    links: list[tuple[str, str | None]] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    pages: int = 0

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def github_account(link: str, web_url: str) -> str | None:
    """The user/organisation name when ``link`` is an account page under ``web_url``
    (``https://github.com/jane``), else ``None``."""
    base = web_url if web_url.endswith("/") else web_url + "/"
    base_parts, parts = urlsplit(base), urlsplit(link)
    if parts.netloc.removeprefix("www.") != base_parts.netloc.removeprefix("www."):
        return None
    if not parts.path.startswith(base_parts.path):
        return None
    rest = [segment for segment in parts.path[len(base_parts.path) :].split("/") if segment]
    if len(rest) != 1 or rest[0].startswith((".", "@")) or rest[0].endswith(".git"):
        return None
    return rest[0]


def github_repositories(fetch: Callable[[str], Page], owner: str, api_url: str) -> Listing:
    """The public, non-fork repositories of user or organisation ``owner`` (clone URLs), read
    from ``GET {api_url}/users/{owner}/repos`` following the ``Link: rel="next"`` pages.

    Raises:
        CrawlError: the first page could not be read or is not a JSON list.
    """
    listing = Listing()
    query = urlencode({"type": "owner", "sort": "pushed", "per_page": GITHUB_PAGE_SIZE})
    url: str | None = f"{api_url.rstrip('/')}/users/{owner}/repos?{query}"
    while url and listing.pages < MAX_API_PAGES:
        page = fetch(url)
        items = _json_list(page)
        listing.pages += 1
        for item in items:
            if item.get("fork"):
                listing.skip("fork")
            elif item.get("private"):
                listing.skip("private")
            elif item.get("clone_url") or item.get("html_url"):
                pushed = str(item.get("pushed_at") or "")[:10] or None
                listing.links.append((str(item.get("clone_url") or item["html_url"]), pushed))
        # GitHub paginates with a Link header: no rel="next" means the last page.
        url = page.next_url
    return listing


def substack_archive(fetch: Callable[[str], Page], root: str) -> Listing:
    """The public posts of a Substack publication from its archive API
    (``{root}api/v1/archive?sort=new&offset=…&limit=…``); paid-only posts are skipped (only
    their teaser is readable).

    Raises:
        CrawlError: the first page could not be read or is not a JSON list.
    """
    listing = Listing()
    base = root if root.endswith("/") else root + "/"
    for number in range(MAX_API_PAGES):
        query = urlencode(
            {"sort": "new", "offset": number * SUBSTACK_PAGE_SIZE, "limit": SUBSTACK_PAGE_SIZE}
        )
        items = _json_list(fetch(urljoin(base, f"api/v1/archive?{query}")))
        listing.pages += 1
        for item in items:
            url = item.get("canonical_url") or ""
            if not url:
                listing.skip("not_a_post")
            elif str(item.get("audience") or "") not in SUBSTACK_PUBLIC_AUDIENCES:
                listing.skip("paywalled")
            elif item.get("type") not in (None, "newsletter"):
                listing.skip("not_a_post")  # podcasts, threads, video posts
            else:
                listing.links.append((url, str(item.get("post_date") or "")[:10] or None))
        if len(items) < SUBSTACK_PAGE_SIZE:
            break
    return listing


def medium_feed_url(link: str) -> str | None:
    """The RSS feed of a medium.com profile or publication (``medium.com/@jane`` →
    ``medium.com/feed/@jane``, ``jane.medium.com`` → ``jane.medium.com/feed``), else ``None``."""
    parts = urlsplit(link)
    host = parts.netloc.lower()
    segments = [segment for segment in parts.path.split("/") if segment]
    if host in {"medium.com", "www.medium.com"} and len(segments) == 1:
        return f"https://medium.com/feed/{segments[0]}"
    if host.endswith(".medium.com") and not segments:
        return f"https://{host}/feed"
    return None


def is_substack(link: str) -> bool:
    """True for a ``*.substack.com`` publication."""
    return (urlsplit(link).hostname or "").endswith(".substack.com")


def _json_list(page: Page) -> list[dict]:
    try:
        items = json.loads(page.content)
    except ValueError as error:
        raise CrawlError("not_json", f"{page.url} is not JSON: {error}") from None
    if not isinstance(items, list):
        raise CrawlError("not_json", f"{page.url} is not a JSON list")
    return [item for item in items if isinstance(item, dict)]
