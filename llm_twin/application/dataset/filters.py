"""Quality filters for sample rows, each counting what it drops.

Filters look at a row's *text* (``answer`` for instruction rows, ``chosen`` for preference rows)
and its *prompt* (``instruction`` / ``prompt``). Order: length → language → boilerplate →
exact duplicates → near duplicates (MinHash LSH on word shingles); decontamination runs after
the split (see :func:`decontaminate`).
"""

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from llm_twin.domain.exceptions import InvalidInput

Row = dict[str, Any]

# Lines typical of page furniture rather than the author's writing.
_BOILERPLATE = re.compile(
    r"subscribe|sign up|newsletter|cookie|all rights reserved|follow me|follow us|"
    r"share this|click here|read more|thanks for reading|leave a comment|\bclap\b|"
    r"privacy policy|terms of service|sponsored|affiliate link|buy me a coffee",
    re.IGNORECASE,
)
_URL = re.compile(r"https?://\S+")
_WORDS = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class FilterConfig:
    """Filter settings (every bound is inclusive).

    Attributes:
        min_answer_chars: Shortest answer (chosen) text kept.
        max_answer_chars: Longest answer text kept.
        min_instruction_chars: Shortest instruction/prompt kept.
        max_instruction_chars: Longest instruction/prompt kept.
        languages: ISO 639-1 codes kept (langdetect); empty: no language filter.
        max_boilerplate_lines: Fraction of an answer's lines that may look like page
            furniture (subscribe, share, cookie…) before the row is dropped.
        max_symbol_ratio: Most non-letter, non-space characters a text may have (code dumps,
            tables of numbers, link lists) before the row is dropped.
        max_url_ratio: Most characters inside URLs.
        near_dup_threshold: Estimated Jaccard similarity of word shingles at which two answers
            count as near duplicates (the later one is dropped); 0 turns it off.
        shingle_words: Words per shingle for near-dup and decontamination.
        num_perm: MinHash permutations.
        decontamination_ngram: n-gram length (words) for decontamination: a train row sharing
            one with a test row is dropped; 0 turns it off.
    """

    min_answer_chars: int = 200
    max_answer_chars: int = 4000
    min_instruction_chars: int = 15
    max_instruction_chars: int = 600
    languages: tuple[str, ...] = ("en",)
    max_boilerplate_lines: float = 0.3
    max_symbol_ratio: float = 0.35
    max_url_ratio: float = 0.3
    near_dup_threshold: float = 0.8
    shingle_words: int = 5
    num_perm: int = 128
    decontamination_ngram: int = 13

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> "FilterConfig":
        """From a config mapping; unknown keys raise ``InvalidInput`` naming them."""
        values = dict(values or {})
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise InvalidInput(f"unknown filter setting(s) {sorted(unknown)}")
        if "languages" in values:
            values["languages"] = tuple(values["languages"] or ())
        config = cls(**values)
        if not 0 <= config.near_dup_threshold <= 1:
            raise InvalidInput("filters.near_dup_threshold must be between 0 and 1")
        return config


@dataclass
class FilterReport:
    """Rows dropped per filter (``dropped_<name>``)."""

    dropped: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, count: int) -> None:
        self.dropped[name] = self.dropped.get(name, 0) + count

    def counts(self) -> dict[str, int]:
        return {f"dropped_{name}": count for name, count in self.dropped.items()}


def text_of(row: Row) -> str:
    """The author-side text of a row: ``answer`` or ``chosen``."""
    return str(row["answer"] if "answer" in row else row["chosen"])


def prompt_of(row: Row) -> str:
    """The prompt side of a row: ``instruction`` or ``prompt``."""
    return str(row["instruction"] if "instruction" in row else row["prompt"])


def normalized(text: str) -> str:
    """Lower-case words only: what duplicates are compared on."""
    return " ".join(_WORDS.findall(text.lower()))


def _keep(
    rows: list[Row], name: str, keep: Callable[[Row], bool], report: FilterReport
) -> list[Row]:
    kept = [row for row in rows if keep(row)]
    report.add(name, len(rows) - len(kept))
    return kept


def by_length(rows: list[Row], config: FilterConfig, report: FilterReport) -> list[Row]:
    # A grounded question ("What is LoRA?") may be short: its prompt gets the context later.
    def keep(row: Row) -> bool:
        answer, prompt = len(text_of(row).strip()), len(prompt_of(row).strip())
        shortest = 1 if row.get("question") else config.min_instruction_chars
        return (
            config.min_answer_chars <= answer <= config.max_answer_chars
            and shortest <= prompt <= config.max_instruction_chars
        )

    return _keep(rows, "length", keep, report)


def detect_language(text: str) -> str:
    """ISO 639-1 code of ``text`` (langdetect, seeded so results repeat); ``unknown`` when
    there is nothing to detect."""
    from langdetect import DetectorFactory, LangDetectException, detect

    DetectorFactory.seed = 0
    try:
        return str(detect(text))
    except LangDetectException:
        return "unknown"


def by_language(rows: list[Row], config: FilterConfig, report: FilterReport) -> list[Row]:
    if not config.languages:
        report.add("language", 0)
        return rows
    allowed = set(config.languages)
    return _keep(rows, "language", lambda row: detect_language(text_of(row)) in allowed, report)


def is_boilerplate(text: str, config: FilterConfig) -> bool:
    """True when ``text`` looks like page furniture, a link list or a symbol dump."""
    lines = [line for line in text.splitlines() if line.strip()]
    if lines and sum(bool(_BOILERPLATE.search(line)) for line in lines) / len(lines) > (
        config.max_boilerplate_lines
    ):
        return True
    compact = "".join(text.split())
    if not compact:
        return True
    url_chars = sum(len(url) for url in _URL.findall(text))
    if url_chars / len(compact) > config.max_url_ratio:
        return True
    without_urls = "".join(_URL.sub("", text).split())
    symbols = sum(not ch.isalpha() for ch in without_urls)
    return bool(without_urls) and symbols / len(without_urls) > config.max_symbol_ratio


def by_boilerplate(rows: list[Row], config: FilterConfig, report: FilterReport) -> list[Row]:
    return _keep(rows, "boilerplate", lambda row: not is_boilerplate(text_of(row), config), report)


def exact_dedup(rows: list[Row], report: FilterReport) -> list[Row]:
    """Drop rows whose normalised answer was seen before (first one kept)."""
    seen: set[str] = set()
    kept = []
    for row in rows:
        digest = hashlib.sha256(normalized(text_of(row)).encode()).hexdigest()
        if digest not in seen:
            seen.add(digest)
            kept.append(row)
    report.add("exact_dup", len(rows) - len(kept))
    return kept


def shingles(text: str, size: int) -> set[str]:
    """Word ``size``-grams of the normalised text (the whole text if shorter)."""
    words = normalized(text).split()
    if len(words) <= size:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}


def minhash(text: str, config: FilterConfig) -> Any:
    from datasketch import MinHash

    signature = MinHash(num_perm=config.num_perm, seed=1)
    signature.update_batch([s.encode() for s in shingles(text, config.shingle_words)])
    return signature


def near_dedup(rows: list[Row], config: FilterConfig, report: FilterReport) -> list[Row]:
    """Drop rows whose answer is a near duplicate (MinHash LSH) of an earlier kept row."""
    if not config.near_dup_threshold:
        report.add("near_dup", 0)
        return rows
    from datasketch import MinHashLSH

    index = MinHashLSH(threshold=config.near_dup_threshold, num_perm=config.num_perm)
    kept = []
    for number, row in enumerate(rows):
        signature = minhash(text_of(row), config)
        if index.query(signature):
            continue
        index.insert(str(number), signature)
        kept.append(row)
    report.add("near_dup", len(rows) - len(kept))
    return kept


def apply_filters(
    rows: list[Row], config: FilterConfig, report: FilterReport | None = None
) -> tuple[list[Row], FilterReport]:
    """Every pre-split filter in order; returns the kept rows and the report."""
    report = report or FilterReport()
    rows = by_length(rows, config, report)
    rows = by_language(rows, config, report)
    rows = by_boilerplate(rows, config, report)
    rows = exact_dedup(rows, report)
    rows = near_dedup(rows, config, report)
    return rows, report


def ngrams(text: str, size: int) -> set[int]:
    """Hashes of the word ``size``-grams of the normalised text."""
    words = normalized(text).split()
    return {
        int.from_bytes(
            hashlib.blake2b(" ".join(words[i : i + size]).encode(), digest_size=8).digest()
        )
        for i in range(len(words) - size + 1)
    }


def decontaminate(
    train: list[Row], test: Sequence[Row], config: FilterConfig, report: FilterReport
) -> list[Row]:
    """Drop train rows that share a word n-gram (``decontamination_ngram`` words) of answer or
    prompt with any test row, or whose answer is a near duplicate of a test answer: nothing
    used in the test split appears (near-)verbatim in train."""
    if not config.decontamination_ngram:
        report.add("contaminated", 0)
        return train
    from datasketch import MinHashLSH

    size = config.decontamination_ngram
    test_grams: set[int] = set()
    for row in test:
        test_grams |= ngrams(text_of(row), size) | ngrams(prompt_of(row), size)
    index = MinHashLSH(threshold=config.near_dup_threshold or 0.8, num_perm=config.num_perm)
    for number, row in enumerate(test):
        index.insert(str(number), minhash(text_of(row), config))
    kept = []
    for row in train:
        grams = ngrams(text_of(row), size) | ngrams(prompt_of(row), size)
        if grams & test_grams or (test and index.query(minhash(text_of(row), config))):
            continue
        kept.append(row)
    report.add("contaminated", len(train) - len(kept))
    return kept
