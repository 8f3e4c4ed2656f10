"""URL rules of discovery: one key per article whatever URL reached it, the part of a site a
root URL stands for, and which links look like articles (not tags, assets or login pages)."""

import posixpath
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from llm_twin.application.crawlers.base import CrawlError
from llm_twin.application.crawlers.links import is_tracking_param, normalize_link

#: Path segments of pages that are not articles: listings, profiles, legal and account pages.
NON_ARTICLE_SEGMENTS = frozenset(
    {
        "tag",
        "tags",
        "category",
        "categories",
        "topic",
        "topics",
        "label",
        "labels",
        "author",
        "authors",
        "about",
        "about-me",
        "contact",
        "login",
        "log-in",
        "signin",
        "sign-in",
        "signup",
        "sign-up",
        "register",
        "subscribe",
        "account",
        "search",
        "page",
        "feed",
        "rss",
        "atom",
        "archive",
        "archives",
        "privacy",
        "privacy-policy",
        "terms",
        "tos",
        "cart",
        "wp-admin",
        "wp-login.php",
        "wp-json",
        "wp-content",
        "static",
        "assets",
        "cdn-cgi",
        "comments",
        "followers",
        "following",
        "lists",
        "recommended",
        "people",
        "sitemap",
    }
)
#: File endings of assets and machine-readable files.
ASSET_SUFFIXES = frozenset(
    {
        ".css",
        ".js",
        ".mjs",
        ".json",
        ".xml",
        ".gz",
        ".rss",
        ".atom",
        ".txt",
        ".png",
        ".jpg",
        ".jpeg",
        ".gif",
        ".svg",
        ".webp",
        ".ico",
        ".avif",
        ".bmp",
        ".pdf",
        ".zip",
        ".tar",
        ".mp3",
        ".mp4",
        ".webm",
        ".ogg",
        ".wav",
        ".woff",
        ".woff2",
        ".ttf",
        ".otf",
        ".eot",
        ".map",
        ".csv",
        ".epub",
        ".doc",
        ".docx",
        ".ppt",
        ".pptx",
        ".xls",
        ".xlsx",
    }
)
INDEX_FILES = ("index.html", "index.htm", "index.php")


def clean_link(link: str) -> str:
    """``link`` normalised (:func:`normalize_link`: no fragment, no tracking parameters), with
    a default port dropped: the form a discovered link is fetched and stored under.

    Raises:
        CrawlError: ``invalid_link`` / ``unsupported_scheme`` (see :func:`normalize_link`).
    """
    parts = urlsplit(normalize_link(link))
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not is_tracking_param(k)
    ]
    netloc = parts.netloc
    if (parts.scheme, parts.port) in {("http", 80), ("https", 443)}:
        netloc = netloc.rsplit(":", 1)[0]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query), ""))


def link_key(link: str) -> str:
    """The identity of the page ``link`` points to: :func:`clean_link` plus ``www.`` dropped,
    ``http``/``https`` merged, a trailing slash, ``index.html`` and a ``.git`` ending removed.
    Two links with the same key are the same article; an unparsable link is its own key."""
    try:
        parts = urlsplit(clean_link(link))
    except CrawlError:
        return link.strip()
    path = parts.path
    for index in INDEX_FILES:
        if path.endswith("/" + index):
            path = path[: -len(index)]
    path = path.rstrip("/").removesuffix(".git") or "/"
    host = parts.netloc.removeprefix("www.")
    scheme = "http" if parts.scheme in {"http", "https"} else parts.scheme
    return urlunsplit((scheme, host, path, parts.query, ""))


@dataclass(frozen=True)
class Scope:
    """The part of a site a root URL stands for: its host and path prefix.

    Attributes:
        host: ``netloc`` of the root (``www.`` removed).
        prefix: Path prefix ending with ``/`` (``/`` for a whole site, ``/blog/`` for a section).
        root: The root URL itself (cleaned).
    """

    host: str
    prefix: str
    root: str

    @classmethod
    def of(cls, root: str) -> "Scope":
        parts = urlsplit(clean_link(root))
        path = parts.path
        for index in INDEX_FILES:
            path = path.removesuffix(index)
        if not path.endswith("/"):
            path += "/"
        return cls(host=parts.netloc.removeprefix("www."), prefix=path, root=clean_link(root))

    def contains(self, link: str) -> bool:
        """True when ``link`` is on this host under this prefix (the root itself excluded)."""
        try:
            parts = urlsplit(clean_link(link))
        except CrawlError:
            return False
        return (
            parts.netloc.removeprefix("www.") == self.host
            and parts.path.startswith(self.prefix)
            and link_key(link) != link_key(self.root)
        )


def non_article_reason(link: str) -> str | None:
    """Why ``link`` is not an article page (``asset``, ``listing``, ``not_http``); ``None``
    when it looks like one."""
    parts = urlsplit(link)
    if parts.scheme not in {"http", "https"}:
        return "not_http"
    path = parts.path.lower()
    if posixpath.splitext(path)[1] in ASSET_SUFFIXES:
        return "asset"
    segments = [segment for segment in path.split("/") if segment]
    if not segments:
        return "listing"
    if any(segment in NON_ARTICLE_SEGMENTS for segment in segments):
        return "listing"
    if segments[-1].isdigit() and len(segments) <= 3 and all(s.isdigit() for s in segments):
        return "listing"  # a date archive: /2024/ or /2024/05/
    query = {key.lower() for key, _ in parse_qsl(parts.query)}
    if query & {"page", "paged", "offset", "cat", "tag", "s", "q"}:
        return "listing"
    return None
