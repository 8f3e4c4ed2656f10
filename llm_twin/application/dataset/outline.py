"""The structure of a cleaned document: its title, subtitle, opening and sections.

Cleaning keeps Markdown headings (``# Title``, ``### Section``), so the outline is read from the
cleaned text itself: crawled headings are often wrapped over two lines (the continuation line
follows without a blank line) and carry emphasis, emoji and numbering (``### 1\\. System
Design``), which :func:`clean_heading` removes. The title heading is the first heading that
repeats the document's title; a heading right after it is the subtitle; short lines after them
(author name, date, like counts, image captions) are page furniture, not the opening. Text
before the title heading (a site's navigation) belongs to no section. Repositories are cut at
their ``### File: <path>`` lines instead, and headings inside fenced code never count.

Every :class:`Region` is a span of the document's own text, so extracts cut inside regions stay
exact slices of the author's text.
"""

import re
import unicodedata
from dataclasses import dataclass

from llm_twin.application.dataset.samples import SourceDocument

_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(\S.*)$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_FILE_HEADING = re.compile(r"^### File: (\S.*)$")
# "1\. ", "#1. ", "1.1. ", "Step 2: " style numbering at the start of a heading.
_NUMBERING = re.compile(r"^(?:#?\d+(?:\.\d+)*[.)]|step \d+:)\s+", re.IGNORECASE)
_EMPHASIS = re.compile(r"(\*\*|__|\*|`)")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_WORDS = re.compile(r"[a-z0-9]+")
_LIST_ITEM = re.compile(r"^\s*(?:[*+-]|\d+[.)]|\\-)\s+")

#: Headings of navigation blocks, not sections a reader would ask the author to write.
NAVIGATION_HEADINGS = frozenset(
    {
        "contents",
        "table of contents",
        "sections",
        "this week s topics",
        "this week topics",
        "previous lessons",
        "images",
        "references",
        "resources",
        "further reading",
        "related",
    }
)


@dataclass(frozen=True)
class Region:
    """A span of the document that extracts are cut from.

    Attributes:
        kind: ``opening`` (after the title block, before the first section), ``section``
            (the text under a heading), ``file`` (one file of a repository) or ``other`` (text
            under a navigation heading such as "Table of Contents").
        heading: The cleaned heading (the file path for ``file``; empty for ``opening``).
        start: Offset of the region's first character in the document's content.
        end: Offset one past its last character.
    """

    kind: str
    heading: str
    start: int
    end: int


@dataclass(frozen=True)
class Outline:
    """What :func:`parse_outline` reads from a document.

    Attributes:
        title: The title as a reader sees it (the title heading, else the document's title
            without an author name around it); may be empty.
        subtitle: The subtitle heading after the title heading; may be empty.
        regions: The opening, sections and files, in document order.
    """

    title: str
    subtitle: str
    regions: tuple[Region, ...]

    def region_at(self, offset: int) -> Region | None:
        """The region holding ``offset`` (``None`` outside every region)."""
        for region in self.regions:
            if region.start <= offset < region.end:
                return region
        return None


def clean_heading(text: str) -> str:
    """A heading as plain words: no ``#``, emphasis, links, emoji or leading numbering."""
    text = _LINK.sub(r"\1", text)
    text = _EMPHASIS.sub("", text.strip().lstrip("#"))
    text = "".join(ch for ch in text if _is_text_char(ch))
    text = " ".join(text.replace("\\", "").split())
    text = _NUMBERING.sub("", text).strip(" _-–—:|")
    return text


def _is_text_char(ch: str) -> bool:
    # Emoji, pictographs and variation selectors are symbols (So) or format marks (Mn/Cf).
    return unicodedata.category(ch) not in ("So", "Cs", "Co", "Mn", "Cf") or ch in "’'"


def words(text: str) -> list[str]:
    """Lower-case alphanumeric words: what titles and headings are compared on."""
    return _WORDS.findall(text.lower())


@dataclass(frozen=True)
class _Heading:
    start: int  # offset of the heading's first line
    end: int  # offset after its last (wrapped) line
    level: int
    text: str  # cleaned


def _lines(content: str) -> list[tuple[int, str]]:
    """``(offset, line)`` of every line."""
    result, offset = [], 0
    for line in content.split("\n"):
        result.append((offset, line))
        offset += len(line) + 1
    return result


def _headings(content: str, repository: bool) -> list[_Heading]:
    """Markdown headings outside fenced code (``### File:`` lines only for repositories)."""
    lines = _lines(content)
    found: list[_Heading] = []
    in_fence = False
    index = 0
    while index < len(lines):
        offset, line = lines[index]
        index += 1
        if repository:
            match = _FILE_HEADING.match(line)
            if match:
                found.append(_Heading(offset, offset + len(line), 3, match.group(1).strip()))
            continue
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        match = None if in_fence else _HEADING.match(line)
        if not match:
            continue
        text, end = match.group(2), offset + len(line)
        # A crawled heading wrapped onto the next line(s): no blank line between.
        if len(line) >= 60 and index < len(lines) and _continues_heading(lines[index][1]):
            text += " " + lines[index][1].strip()
            end = lines[index][0] + len(lines[index][1])
            index += 1
        found.append(_Heading(offset, end, len(match.group(1)), clean_heading(text)))
    return found


def _continues_heading(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not (
        _HEADING.match(line) or _FENCE.match(line) or _LIST_ITEM.match(line) or len(line) > 100
    )


def _is_title_heading(heading: _Heading, title_words: list[str], author_words: list[str]) -> bool:
    """The heading repeats the document's title (not merely the author's name)."""
    found = words(heading.text)
    if len(found) < 2 or found == author_words or not title_words:
        return False
    title = set(title_words)
    return sum(word in title for word in found) >= 0.8 * len(found)


def reader_title(title: str, author: str) -> str:
    """The document's title without an author name before or after it ("X - by Jane Doe")."""
    title = " ".join(title.split())
    if not author.strip():
        return title
    name = re.escape(" ".join(author.split()))
    title = re.sub(rf"\s*[-|–—:]\s*(?:by\s+)?{name}\s*$", "", title, flags=re.IGNORECASE)
    return re.sub(rf"^{name}\s*[-|–—:]\s*", "", title, flags=re.IGNORECASE).strip()


def _is_furniture(block: str) -> bool:
    """A short line after the title: author name, date, like count, caption, category."""
    block = block.strip()
    return (
        "\n" not in block
        and len(block) <= 80
        and not block.endswith((".", "!", "?", ":", ";"))
        and not _LIST_ITEM.match(block)
    )


def _body_start(
    content: str, position: int, headings: list[_Heading], subtitle: str
) -> tuple[int, list[str]]:
    """Where the author's text starts after the title block, and the furniture blocks skipped
    on the way."""
    starts = {h.start: h for h in headings}
    furniture: list[str] = []
    for match in re.finditer(r"[^\n](?:.|\n(?!\s*\n))*", content[position:]):
        start = position + match.start()
        heading = starts.get(start)
        if heading is not None and heading.text == subtitle:
            continue  # the subtitle repeated in italics
        if heading is None and _is_furniture(match.group()):
            furniture.append(match.group().strip())
            continue
        return start, furniture
    return len(content), furniture


def _subtitle_line(furniture: list[str], author_words: list[str]) -> str:
    """A subtitle written as a plain line under the title (the first furniture block of four
    words or more that is not the author's name)."""
    for block in furniture:
        found = words(block)
        if len(found) >= 4 and found != author_words:
            return clean_heading(block)
    return ""


def parse_outline(document: SourceDocument) -> Outline:
    """The outline of ``document`` (see the module docstring)."""
    content = document.content
    repository = document.category == "repositories"
    headings = _headings(content, repository)
    title = reader_title(document.title, document.author_full_name)
    if repository:
        files = [
            Region(
                "file",
                h.text,
                h.end,
                headings[i + 1].start if i + 1 < len(headings) else len(content),
            )
            for i, h in enumerate(headings)
        ]
        return Outline(" ".join(document.title.split()), "", tuple(files))
    title_words, author_words = words(title), words(document.author_full_name)
    top = next(
        (
            i
            for i, h in enumerate(headings)
            if h.start < 4000 and _is_title_heading(h, title_words, author_words)
        ),
        None,
    )
    subtitle, body = "", 0
    rest = headings
    if top is not None:
        title = headings[top].text or title
        position = headings[top].end
        rest = headings[top + 1 :]
        if rest and not content[position : rest[0].start].strip():
            subtitle, position = rest[0].text, rest[0].end
            rest = rest[1:]
        body, furniture = _body_start(content, position, headings, subtitle)
        subtitle = subtitle or _subtitle_line(furniture, author_words)
        rest = [h for h in rest if h.start >= body]
    repeated = {" ".join(words(title)), " ".join(words(subtitle))}
    return Outline(title, subtitle, tuple(_regions(content, body, rest, repeated)))


def _regions(content: str, body: int, headings: list[_Heading], repeated: set[str]) -> list[Region]:
    """The opening (``body`` to the first heading) and one region per heading; headings that
    repeat the title or subtitle, or head navigation, make ``other`` regions."""
    ends = [h.start for h in headings[1:]] + [len(content)] if headings else []
    regions = []
    if not headings or headings[0].start > body:
        regions.append(Region("opening", "", body, headings[0].start if headings else len(content)))
    for heading, end in zip(headings, ends, strict=True):
        name = " ".join(words(heading.text))
        kind = "other" if not name or name in NAVIGATION_HEADINGS | repeated else "section"
        regions.append(Region(kind, heading.text, heading.end, end))
    return regions
