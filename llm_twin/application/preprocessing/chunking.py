"""Token-aware chunking with the embedder's own tokenizer.

A document is split top-down only where it is too long: first into blocks (paragraphs, fenced
code blocks, or repository files), then sentences (or lines, for code), then lines, and as a
last resort into windows of tokens. The pieces are packed greedily into chunks of at most the
token budget, with an optional overlap of trailing pieces. Every character of the text belongs
to a chunk (only whitespace between chunks is left out), and each chunk is a verbatim slice
``text[start_char:end_char]``, so positions can be cited.
"""

import functools
import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field, model_validator

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

#: A splitter maps (text, start, end) to contiguous sub-spans covering [start, end).
Splitter = Callable[[str, int, int], list[tuple[int, int]]]


class ChunkingConfig(BaseModel):
    """How one category's documents are cut.

    Attributes:
        chunk_tokens: Largest chunk in tokens, special tokens and the title prefix included;
            capped at the embedder's max sequence length.
        overlap_tokens: Tokens of trailing sentences repeated at the start of the next chunk
            (whole pieces only, so it may be less); 0 disables overlap.
        min_chunk_tokens: A last chunk smaller than this is merged into the previous one when
            both fit the budget (nothing is dropped either way).
    """

    chunk_tokens: int = Field(default=256, ge=32)
    overlap_tokens: int = Field(default=32, ge=0)
    min_chunk_tokens: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _overlap_below_half(self) -> "ChunkingConfig":
        if self.overlap_tokens * 2 > self.chunk_tokens:
            raise ValueError(
                f"overlap_tokens ({self.overlap_tokens}) must be at most half of chunk_tokens "
                f"({self.chunk_tokens})"
            )
        return self


@dataclass(frozen=True)
class TextSpan:
    """A chunk cut from a text: ``text[start:end]`` with its token count (no special tokens)."""

    start: int
    end: int
    tokens: int


class TokenCounter:
    """Counts tokens with a Hugging Face tokenizer (cached per text).

    Args:
        tokenizer: A (fast) Hugging Face tokenizer, e.g. ``Embedder.tokenizer``.
    """

    def __init__(self, tokenizer: "PreTrainedTokenizerBase") -> None:
        self.tokenizer = tokenizer
        self.special_tokens = len(tokenizer("")["input_ids"])
        self.count = functools.lru_cache(maxsize=65536)(self._count)

    def _count(self, text: str) -> int:
        # verbose=False: counting a whole document is fine, it is never fed to the model.
        return len(self.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])

    def token_windows(self, text: str, start: int, end: int, budget: int) -> list[tuple[int, int]]:
        """Cut ``text[start:end]`` at token boundaries into windows of at most ``budget``."""
        encoded = self.tokenizer(
            text[start:end], add_special_tokens=False, return_offsets_mapping=True, verbose=False
        )
        offsets = encoded["offset_mapping"]
        spans: list[tuple[int, int]] = []
        cursor = start
        for first in range(0, len(offsets), budget):
            last = min(first + budget, len(offsets)) - 1
            stop = end if last == len(offsets) - 1 else start + offsets[last][1]
            if stop > cursor:
                spans.append((cursor, stop))
                cursor = stop
        if cursor < end:
            if spans:
                spans[-1] = (spans[-1][0], end)
            else:
                spans.append((cursor, end))
        return spans


# -- splitters -------------------------------------------------------------------------------
_BLANK_LINES = re.compile(r"\n[ \t]*\n")
_FENCE = re.compile(r"^[ \t]*(```|~~~)", re.M)
# Sentence ends: punctuation then whitespace, or punctuation glued to a capitalised word
# (pages crawled as one line, "…course.What is…").
_SENTENCE_END = re.compile(r"(?<=[.!?…])(?:[\"'”’)\]]*)(?:\s+|(?=[A-Z][a-z]))")
_NEWLINE = re.compile(r"\n")
_FILE_HEADER = re.compile(r"^### File: ", re.M)
_HEADING = re.compile(r"#{1,6} [^\n]*")


def _cut_at(boundaries: Sequence[int], start: int, end: int) -> list[tuple[int, int]]:
    cuts = sorted({b for b in boundaries if start < b < end})
    edges = [start, *cuts, end]
    return [(a, b) for a, b in itertools.pairwise(edges) if b > a]


def split_blocks(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Paragraphs separated by blank lines; a fenced code block stays one block, and a
    heading stays with the paragraph after it (a chunk never ends on a heading)."""
    fences = [m.start() for m in _FENCE.finditer(text, start, end)]
    inside: list[tuple[int, int]] = list(zip(fences[::2], fences[1::2], strict=False))
    boundaries = []
    previous = start
    for match in _BLANK_LINES.finditer(text, start, end):
        cut = match.end()
        if any(a < cut <= b for a, b in inside):
            continue
        if _HEADING.fullmatch(text[previous : match.start()].strip()):
            continue
        boundaries.append(cut)
        previous = cut
    return _cut_at(boundaries, start, end)


def split_sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentences, or lines when the span is code (a fenced block or mostly indented lines)."""
    if _looks_like_code(text[start:end]):
        return split_lines(text, start, end)
    return _cut_at([m.end() for m in _SENTENCE_END.finditer(text, start, end)], start, end)


def split_lines(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Lines (each keeps its newline)."""
    return _cut_at([m.end() for m in _NEWLINE.finditer(text, start, end)], start, end)


def split_files(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Repository files: sections starting with a ``### File: path`` header."""
    return _cut_at([m.start() for m in _FILE_HEADER.finditer(text, start, end)], start, end)


def _looks_like_code(span: str) -> bool:
    stripped = span.lstrip()
    if stripped.startswith(("```", "~~~")):
        return True
    lines = [line for line in span.split("\n") if line.strip()]
    indented = sum(1 for line in lines if line.startswith(("    ", "\t")))
    return len(lines) >= 3 and indented * 2 >= len(lines)


#: Split levels for prose and for code, coarsest first.
PROSE_LEVELS: tuple[Splitter, ...] = (split_blocks, split_sentences, split_lines)
CODE_LEVELS: tuple[Splitter, ...] = (split_files, split_blocks, split_lines)


# -- chunker ---------------------------------------------------------------------------------
class TokenChunker:
    """Cuts text into spans of at most ``budget`` tokens (special tokens excluded).

    Args:
        counter: Token counter of the embedder's tokenizer.
        levels: Splitters tried in order on any span over budget.
        hard_first_level: The first splitter's cuts always start a new chunk (repository
            files), instead of being packed together with their neighbours.
    """

    def __init__(
        self,
        counter: TokenCounter,
        levels: Sequence[Splitter] = PROSE_LEVELS,
        hard_first_level: bool = False,
    ) -> None:
        self.counter = counter
        self.levels = tuple(levels)
        self.hard_first_level = hard_first_level

    def chunk(
        self, text: str, budget: int, overlap: int = 0, min_tokens: int = 0
    ) -> list[TextSpan]:
        """Spans of ``text`` with at most ``budget`` tokens each.

        Args:
            text: The cleaned text.
            budget: Token budget per chunk (without special tokens).
            overlap: Tokens of whole trailing pieces to repeat at the next chunk's start.
            min_tokens: Merge a smaller last chunk into the previous one when it fits.
        """
        if budget < 8:
            raise ValueError(f"chunk budget of {budget} tokens is too small")
        if not text.strip():
            return []
        sections = [(0, len(text))]
        if self.hard_first_level and self.levels:
            sections = self.levels[0](text, 0, len(text))
        chunks: list[TextSpan] = []
        for start, end in sections:
            pieces = self._pieces(text, start, end, budget, 0)
            chunks += self._pack(text, pieces, budget, overlap)
        if min_tokens and len(chunks) > 1 and chunks[-1].tokens < min_tokens:
            merged = self._span(text, chunks[-2].start, chunks[-1].end)
            if merged.tokens <= budget:
                chunks[-2:] = [merged]
        return chunks

    def _span(self, text: str, start: int, end: int) -> TextSpan:
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        return TextSpan(start, end, self.counter.count(text[start:end]) if end > start else 0)

    def _pieces(self, text: str, start: int, end: int, budget: int, level: int) -> list[TextSpan]:
        span = self._span(text, start, end)
        if span.end <= span.start:
            return []
        if span.tokens <= budget:
            return [span]
        for index in range(level, len(self.levels)):
            parts = self.levels[index](text, span.start, span.end)
            if len(parts) > 1:
                pieces: list[TextSpan] = []
                for part_start, part_end in parts:
                    pieces += self._pieces(text, part_start, part_end, budget, index + 1)
                return pieces
        windows = self.counter.token_windows(text, span.start, span.end, budget)
        pieces = []
        for window_start, window_end in windows:
            piece = self._span(text, window_start, window_end)
            if piece.end <= piece.start:
                continue
            if piece.tokens > budget and budget > 8:  # re-tokenised slice grew: cut smaller
                pieces += self._shrink(text, piece, budget)
            else:
                pieces.append(piece)
        return pieces

    def _shrink(self, text: str, piece: TextSpan, budget: int) -> list[TextSpan]:
        windows = self.counter.token_windows(text, piece.start, piece.end, budget * 3 // 4)
        return [self._span(text, a, b) for a, b in windows if text[a:b].strip()]

    def _pack(self, text: str, pieces: list[TextSpan], budget: int, overlap: int) -> list[TextSpan]:
        chunks: list[TextSpan] = []
        first = 0
        while first < len(pieces):
            # Grow on the pieces' own counts (WordPiece counts add up across whitespace), then
            # confirm on the real slice and back off while a join tokenised differently.
            last, total = first, pieces[first].tokens
            while last + 1 < len(pieces) and total + pieces[last + 1].tokens <= budget:
                last += 1
                total += pieces[last].tokens
            best = self._span(text, pieces[first].start, pieces[last].end)
            while best.tokens > budget and last > first:
                last -= 1
                best = self._span(text, pieces[first].start, pieces[last].end)
            chunks.append(best)
            if last + 1 >= len(pieces):
                break
            next_first = last + 1
            if overlap:
                # Carry whole trailing pieces, leaving room for the next new piece.
                carried, room = 0, budget - pieces[last + 1].tokens
                while next_first - 1 > first:
                    size = pieces[next_first - 1].tokens
                    if carried + size > min(overlap, room):
                        break
                    next_first -= 1
                    carried += size
            first = next_first
        return chunks
