"""The tags a page declares for its article: ``<meta property="article:tag">`` (Open Graph's
article namespace, also seen as ``og:article:tag``), the ``keywords`` of its JSON-LD article
object, and links marked ``rel="tag"``. The ``<meta name="keywords">`` list is left out: sites
fill it with the same SEO words on every page, so it says little about one article."""

import json
from collections.abc import Iterator
from typing import Any

#: At most this many tags are kept per page, each at most :data:`MAX_TAG_CHARS` long.
MAX_TAGS = 20
MAX_TAG_CHARS = 60
_META_PROPERTIES = frozenset({"article:tag", "og:article:tag"})
#: JSON-LD ``@type`` values of an article (schema.org ``CreativeWork`` kinds a post uses).
_ARTICLE_TYPES = frozenset(
    {"article", "blogposting", "newsarticle", "techarticle", "socialmediaposting", "report",
     "scholarlyarticle", "posting", "creativework"}
)  # fmt: skip


def page_tags(html: str | bytes) -> list[str]:
    """The tags ``html`` declares for its article, in page order, duplicates (ignoring case and
    a leading ``#``) removed; empty when it declares none or does not parse."""
    import lxml.etree
    import lxml.html

    try:
        document = lxml.html.fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return []
    found: list[str] = []
    for meta in document.iter("meta"):
        kind = (meta.get("property") or meta.get("name") or "").strip().lower()
        if kind in _META_PROPERTIES and meta.get("content"):
            found.append(meta.get("content", ""))
    for script in document.iter("script"):
        if (script.get("type") or "").strip().lower() == "application/ld+json":
            found += _json_ld_keywords(script.text or "")
    for anchor in document.iter("a"):
        if "tag" in (anchor.get("rel") or "").lower().split():
            found.append(anchor.text_content())
    return _unique(found)


def _json_ld_keywords(text: str) -> list[str]:
    try:
        data = json.loads(text)
    except ValueError:
        return []
    keywords: list[str] = []
    for item in _objects(data):
        kinds = item.get("@type")
        kinds = [kinds] if isinstance(kinds, str) else kinds if isinstance(kinds, list) else []
        if not any(str(kind).lower() in _ARTICLE_TYPES for kind in kinds):
            continue
        value = item.get("keywords")
        if isinstance(value, str):
            keywords += value.split(",")
        elif isinstance(value, list):
            keywords += [str(keyword) for keyword in value if isinstance(keyword, str | int)]
    return keywords


def _objects(data: object) -> Iterator[dict[str, Any]]:
    """Every object in the parsed JSON ``data``: top-level ones and those of an ``@graph``."""
    if isinstance(data, list):
        for item in data:
            yield from _objects(item)
    elif isinstance(data, dict):
        yield data
        yield from _objects(data.get("@graph"))


def _unique(values: list[str]) -> list[str]:
    kept: dict[str, str] = {}
    for value in values:
        tag = " ".join(value.split()).lstrip("#").strip()
        if tag and len(tag) <= MAX_TAG_CHARS:
            kept.setdefault(tag.casefold(), tag)
    return list(kept.values())[:MAX_TAGS]
