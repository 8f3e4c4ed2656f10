"""Cutting cleaned documents into extracts: runs of whole sentences of a configurable length.

An extract is an exact slice of the document's text, so the answer of a back-translated sample
is the author's own words (only leading/trailing whitespace is trimmed).
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass

from llm_twin.application.dataset.samples import Extract, SourceDocument
from llm_twin.domain.exceptions import InvalidInput

# A sentence ends at . ! ? (optionally followed by a closing quote or bracket) before
# whitespace, or at a blank line / Markdown block boundary.
_BOUNDARY = re.compile(r"(?<=[.!?])[\"')\]]?\s+|\n\s*\n")


@dataclass(frozen=True)
class ExtractConfig:
    """How documents are cut.

    Attributes:
        min_chars: Extracts shorter than this are not produced (the tail of a document is
            merged into the previous extract when it would be shorter).
        max_chars: Sentences are added while the extract stays within this many characters;
            a single longer sentence becomes an extract on its own, cut at ``max_chars``.
        max_per_document: At most this many extracts per document (0: no limit), taken evenly
            spread over the document.
        sections: Cut along the document's outline
            (:func:`~llm_twin.application.dataset.outline.parse_outline`): no extract spans
            two sections (or two files of a repository), heading lines and the title block are
            not part of any extract, and text before the title heading is skipped.
    """

    min_chars: int = 400
    max_chars: int = 1200
    max_per_document: int = 0
    sections: bool = False

    def __post_init__(self) -> None:
        if self.min_chars < 1 or self.max_chars < self.min_chars:
            raise InvalidInput(
                f"extracts: need 1 <= min_chars <= max_chars, got min_chars={self.min_chars}, "
                f"max_chars={self.max_chars}"
            )
        if self.max_per_document < 0:
            raise InvalidInput("extracts: max_per_document must be >= 0")


def sentence_spans(text: str) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of each sentence of ``text``, whitespace excluded."""
    position = 0
    for match in _BOUNDARY.finditer(text):
        yield from _trimmed(text, position, match.start() + _closing(match.group()))
        position = match.end()
    yield from _trimmed(text, position, len(text))


def _closing(separator: str) -> int:
    # A closing quote/bracket after the full stop belongs to the sentence.
    return 1 if separator[:1] in "\"')]" else 0


def _trimmed(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        yield start, end


def split_document(document: SourceDocument, config: ExtractConfig) -> list[Extract]:
    """The document's extracts, in order."""
    content = document.content
    if config.sections:
        from llm_twin.application.dataset.outline import parse_outline

        ranges = [(r.start, r.end) for r in parse_outline(document).regions]
    else:
        ranges = [(0, len(content))]
    spans = [span for lo, hi in ranges for span in _range_spans(content, lo, hi, config)]
    spans = [(s, e) for s, e in spans if _stripped_length(content, s, e) >= config.min_chars]
    if config.max_per_document and len(spans) > config.max_per_document:
        step = len(spans) / config.max_per_document
        spans = [spans[int(i * step)] for i in range(config.max_per_document)]
    extracts = []
    for index, (s, e) in enumerate(spans):
        s, e = next(_trimmed(content, s, e))
        extracts.append(Extract(document, index, s, e))
    return extracts


def _range_spans(content: str, lo: int, hi: int, config: ExtractConfig) -> list[tuple[int, int]]:
    """Runs of whole sentences of ``content[lo:hi]`` (offsets into ``content``)."""
    spans: list[tuple[int, int]] = []
    start = end = -1
    for sentence_start, sentence_end in sentence_spans(content[lo:hi]):
        sentence_start, sentence_end = sentence_start + lo, sentence_end + lo
        while sentence_end - sentence_start > config.max_chars:  # one huge "sentence" (code)
            if start >= 0:
                spans.append((start, end))
                start = -1
            spans.append((sentence_start, sentence_start + config.max_chars))
            sentence_start += config.max_chars
        if start < 0:
            start, end = sentence_start, sentence_end
        elif sentence_end - start <= config.max_chars:
            end = sentence_end
        else:
            spans.append((start, end))
            start, end = sentence_start, sentence_end
    if start >= 0:
        if spans and end - start < config.min_chars and end - spans[-1][0] <= config.max_chars:
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return spans


def _stripped_length(text: str, start: int, end: int) -> int:
    return len(text[start:end].strip())


def split_documents(documents: list[SourceDocument], config: ExtractConfig) -> list[Extract]:
    """Extracts of every document, documents in the given order."""
    return [extract for document in documents for extract in split_document(document, config)]
