"""Cleaning: raw crawled content -> readable text that keeps meaning.

What is kept: punctuation, code (fenced blocks are left byte for byte apart from trailing
spaces), Markdown structure (headings, lists, emphasis, tables) and indentation. What goes:
unicode look-alikes (NFKC folds the "𝗯𝗼𝗹𝗱" maths letters some authors use into plain letters),
zero-width characters, runs of spaces, runs of blank lines, lines that are only a URL, and the
site chrome the crawler picked up (Substack share/subscribe blocks and comment footers, Medium
headers and recommendation footers, blog navigation menus).
"""

import re
import unicodedata

#: Lines that are site chrome wherever they appear (compared after stripping whitespace).
BOILERPLATE_LINES = frozenset(
    {
        "#",
        "__",
        "*",
        "Subscribe",
        "SubscribeSign in",
        "Sign in",
        "Sign up",
        "Open in app",
        "Share",
        "Copy link",
        "PreviousNext",
        "commentReplyShare",
        "Start WritingGet the app",
        "Substack is the home for great culture",
        "Privacy ∙ Terms ∙ Collection notice",
        "This site requires JavaScript to run correctly. Please turn on JavaScript or",
        "unblock scripts",
    }
)

ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_URL_ONLY = re.compile(r"^\s*[<(\[]?(?:https?://|www\.)\S+[>)\]]?\s*$")
_COPYRIGHT = re.compile(r"^\s*(?:__)?(?:©|\(c\)|copyright)\s*(?:©\s*)?\d{4}\b.{0,80}$", re.I)
_FENCE = re.compile(r"^\s*(```|~~~)")
# Substack repeats a "Share this post / <title> / <site> / Copy link / Facebook / Email / Note /
# Other" block at the top and bottom of every post, sometimes after a like count line.
_SUBSTACK_SHARE = re.compile(
    r"^(?:\d+\s*\n\s*)?Share this post[ \t]*\n(?:.*\n){0,14}?[ \t]*Other[ \t]*$", re.M
)
_SUBSTACK_FOOTER = re.compile(r"^#*\s*Discussion about this post\s*$", re.M)
# Medium pages crawled as one line: "<title><subtitle><author>·FollowPublished in…·N min
# read·<date><claps>ListenShare<text>…Sign up to discover human stories…<footer>".
_MEDIUM_HEADER = re.compile(r"^.{0,1500}?min read·.{0,80}?ListenShare", re.S)
_MEDIUM_FOOTER_MARKERS = (
    "Sign up to discover human stories",
    "Written by ",
    "Recommended from Medium",
    "To make Medium work, we log user data",
)
# Quarto blog (mlabonne.github.io): icon artefacts "__" in nav items; a sidebar of series links
# whose group headers end with "__".
_ICON_NAV_ITEM = re.compile(r"^\s*[*-]\s+__\S*.*$|^\s*[*-]\s*$")
_SIDEBAR_GROUP = re.compile(r"^\s*[*-]\s+.*\s__\s*$")
_LIST_OR_RULE = re.compile(r"^\s*(?:[*-]\s+.*|(?:\*\s*){3,}|[*-])\s*$")


def normalize_unicode(text: str) -> str:
    """NFKC-normalise ``text``, drop zero-width characters and unify line endings."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = unicodedata.normalize("NFKC", text)
    return ZERO_WIDTH.sub("", text)


def strip_site_chrome(text: str, platform: str = "") -> str:
    """Remove the navigation, share and footer blocks of the sites the crawler supports.

    Args:
        text: Text after :func:`normalize_unicode`.
        platform: The document's platform (``medium``, ``*.substack.com``…); rules for other
            platforms still apply when their markers are found.
    """
    footer = _SUBSTACK_FOOTER.search(text)
    if footer:
        text = text[: footer.start()]
    text = _SUBSTACK_SHARE.sub("", text)
    if "medium" in platform or "ListenShare" in text[:2000]:
        text = _MEDIUM_HEADER.sub("", text, count=1)
        half = len(text) // 2
        cuts = [text.find(marker, half) for marker in _MEDIUM_FOOTER_MARKERS]
        cuts = [cut for cut in cuts if cut >= 0]
        if cuts:
            text = text[: min(cuts)]
    return _drop_sidebars(text)


def _drop_sidebars(text: str) -> str:
    lines = text.split("\n")
    kept: list[str] = []
    skipping = False
    for line in lines:
        if _SIDEBAR_GROUP.match(line):
            skipping = True
            continue
        if skipping and (not line.strip() or _LIST_OR_RULE.match(line)):
            continue
        skipping = False
        if _ICON_NAV_ITEM.match(line):
            continue
        kept.append(line)
    return "\n".join(kept)


def clean_text(text: str, platform: str = "") -> str:
    """Full cleaning of one text: unicode, site chrome, boilerplate lines, whitespace.

    Inside fenced code blocks only trailing whitespace is removed. Elsewhere runs of spaces
    collapse to one (leading indentation is kept for nested lists and indented code), lines
    that are only a URL or site chrome are dropped, and blank-line runs collapse to one.

    Args:
        text: Raw text.
        platform: The document's platform, for platform-specific chrome.
    """
    text = strip_site_chrome(normalize_unicode(text), platform)
    out: list[str] = []
    in_fence = False
    for raw_line in text.split("\n"):
        line = raw_line.rstrip()
        if _FENCE.match(line):
            in_fence = not in_fence
            out.append(line)
            continue
        if in_fence:
            out.append(line)
            continue
        stripped = line.strip()
        if stripped in BOILERPLATE_LINES or _URL_ONLY.match(line) or _COPYRIGHT.match(line):
            continue
        indent = line[: len(line) - len(line.lstrip())].replace("\t", "    ")
        out.append(indent + re.sub(r"[ \t]+", " ", stripped) if stripped else "")
    cleaned = re.sub(r"\n{3,}", "\n\n", "\n".join(out))
    return cleaned.strip("\n").rstrip()


def clean_title(title: str, max_chars: int = 150) -> str:
    """One-line title, at most ``max_chars`` characters (cut at a word boundary).

    Titles are prepended to every chunk's embedding text, so a bounded title keeps room for
    the chunk inside the embedder's window.
    """
    title = " ".join(normalize_unicode(title).split())
    if len(title) <= max_chars:
        return title
    cut = title[:max_chars].rsplit(" ", 1)[0]
    return (cut or title[:max_chars]).rstrip(" ,;:-") + "…"


def text_fields(content: dict, keys: tuple[str, ...]) -> list[str]:
    """The non-empty string values of ``content`` under ``keys``, in that order."""
    return [content[key] for key in keys if isinstance(content.get(key), str) and content[key]]
