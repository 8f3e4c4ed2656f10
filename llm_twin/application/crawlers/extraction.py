"""Article extraction: the main text of an HTML page, as Markdown-ish text, with its metadata.

One function, :func:`extract_article`, used by the custom-article and Medium crawlers and by
``tools/extract_article.py`` (``poe extract-article``), so what the CLI prints is exactly what
the crawler stores. Trafilatura does the work; this module picks its options and tidies the
result (title repeated as the first heading, Markdown escapes outside code).
"""

import re
from dataclasses import asdict, dataclass
from typing import Any

from llm_twin.application.crawlers.tags import page_tags

#: Below this many characters the precise pass is considered to have missed the body, and a
#: recall-oriented pass is tried.
MIN_TEXT_CHARS = 200
#: A "body" shorter than this many words is a navigation crumb or an error line, not an article.
MIN_BODY_WORDS = 5
#: A body has at least one line this long; text made only of shorter lines is a menu.
MIN_LONGEST_LINE_WORDS = 6

#: Removed before extraction on every page: small blocks around an e-mail sign-up form
#: (newsletter and subscribe boxes placed inside the article body, which trafilatura keeps).
#: The length bound keeps the rule from ever matching a container of the article itself.
DEFAULT_PRUNE_XPATH = (
    "//*[self::div or self::section or self::aside or self::form]"
    "[.//input[@type='email']][string-length(normalize-space(.)) < 300]",
)

_ESCAPED = re.compile(r"\\([_*\[\]`#<>|~\\-])")
_FENCE = re.compile(r"^(```|~~~)")


@dataclass(frozen=True)
class ExtractedArticle:
    """What :func:`extract_article` found.

    Attributes:
        title: The article's title ("" when none was found).
        subtitle: Its subtitle or description, when the page declares one.
        text: The body as Markdown-ish text: headings (``#``), lists (``-``/``1.``), code
            blocks (fenced), quotes and tables kept; navigation, footers, subscribe boxes and
            comment threads left out.
        author: The author's name, when the page declares it.
        published: Publication date as ``YYYY-MM-DD``, when found.
        sitename: The site's name, when declared.
        tags: The tags the page declares (see :func:`~.tags.page_tags`).
    """

    title: str
    subtitle: str | None
    text: str
    author: str | None
    published: str | None
    sitename: str | None
    tags: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def extract_article(
    html: str | bytes,
    url: str | None = None,
    prune_xpath: list[str] | None = None,
) -> ExtractedArticle | None:
    """Extract the main article of ``html``; ``None`` when no body text was found.

    Args:
        html: The page (bytes are decoded by trafilatura, honouring the declared charset).
        url: The page's URL, when known: helps metadata and relative-link handling.
        prune_xpath: XPath expressions of elements to drop before extraction (a crawler that
            knows its site's markup uses it to remove bylines and buttons).
    """
    import trafilatura

    options: dict[str, Any] = {
        "url": url,
        "output_format": "markdown",
        "include_formatting": True,
        "include_comments": False,
        "include_tables": True,
        "include_images": False,
        "include_links": False,
        "deduplicate": False,
        "prune_xpath": [*DEFAULT_PRUNE_XPATH, *(prune_xpath or [])],
    }
    text = trafilatura.extract(html, **options)
    if not text or len(text) < MIN_TEXT_CHARS:
        recalled = trafilatura.extract(html, favor_recall=True, **options)
        # Only a real body counts: a recall pass over a page without one returns its menus.
        if recalled and len(recalled) >= MIN_TEXT_CHARS and len(recalled) > len(text or ""):
            text = recalled
    if not text or not text.strip():
        return None
    metadata = trafilatura.extract_metadata(html, default_url=url)
    title = _clean(getattr(metadata, "title", None)) or ""
    subtitle = _clean(getattr(metadata, "description", None))
    body = _tidy(text, title, subtitle)
    if not _looks_like_body(body):
        return None
    return ExtractedArticle(
        title=title,
        subtitle=subtitle,
        text=body,
        author=_clean(getattr(metadata, "author", None)),
        published=_clean(getattr(metadata, "date", None)),
        sitename=_clean(getattr(metadata, "sitename", None)),
        tags=tuple(page_tags(html)),
    )


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = " ".join(value.split())
    return value or None


def _tidy(text: str, title: str, subtitle: str | None) -> str:
    """Drop leading headings that repeat the title or subtitle; undo Markdown escapes outside
    fenced code (``Q4\\_K\\_M`` → ``Q4_K_M``: the text is for reading and training, not for a
    Markdown renderer)."""
    lines = text.strip().splitlines()
    repeated = {_heading_key(title)} | ({_heading_key(subtitle)} if subtitle else set())
    repeated.discard("")
    while lines and (lines[0].strip() == "" or _heading_key(lines[0]) in repeated):
        if lines[0].strip() and not lines[0].lstrip().startswith("#"):
            break
        lines.pop(0)
    out, in_code = [], False
    for line in lines:
        if _FENCE.match(line.strip()):
            in_code = not in_code
            out.append(line)
            continue
        out.append(line if in_code else _ESCAPED.sub(r"\1", line))
    return "\n".join(out).strip()


def _looks_like_body(text: str) -> bool:
    """False for what extraction returns from pages without an article: a few words, or only
    short lines (a menu such as "Home / Write / Sign in / Loading…")."""
    if len(text.split()) < MIN_BODY_WORDS:
        return False
    return max(len(line.split()) for line in text.splitlines()) >= MIN_LONGEST_LINE_WORDS


def _heading_key(line: str | None) -> str:
    return " ".join((line or "").strip().lstrip("#").split()).casefold()
