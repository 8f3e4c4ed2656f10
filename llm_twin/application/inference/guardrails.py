"""Input and output guardrails: question checks, prompt-injection flags, PII masking."""

import re
from collections.abc import Iterable, Iterator

from llm_twin.domain.exceptions import InvalidInput

#: Phrases typical of prompt-injection attempts: flagged in the trace, not blocked (a question
#: about prompt injection is legitimate for this corpus).
INJECTION_PATTERNS: dict[str, re.Pattern[str]] = {
    "ignore_instructions": re.compile(
        r"\b(ignore|disregard|forget)\b.{0,20}\b(previous|prior|above|earlier|all|your)\b.{0,20}"
        r"\b(instructions?|prompts?|rules|directions)\b",
        re.IGNORECASE,
    ),
    "reveal_system_prompt": re.compile(
        r"\b(reveal|show|print|repeat|tell me)\b.{0,30}\b(system prompt|instructions|prompt)\b",
        re.IGNORECASE,
    ),
    "role_override": re.compile(
        r"\byou are now\b|\bact as (an? )?(unfiltered|unrestricted|jailbroken)\b|\bDAN mode\b",
        re.IGNORECASE,
    ),
    "jailbreak": re.compile(r"\bjailbreak", re.IGNORECASE),
}

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
#: Candidate phone numbers; a match is masked only with 9-15 digits (dates and years have fewer).
PHONE = re.compile(r"(?<![\w.])\+?\(?\d[\d\s().-]{7,}\d(?![\w])")
EMAIL_MASK = "[email]"
PHONE_MASK = "[phone]"


def check_query(query: str, max_chars: int) -> str:
    """The query, stripped, if acceptable.

    Raises:
        InvalidInput: empty/whitespace-only, or longer than ``max_chars``.
    """
    if not query or not query.strip():
        raise InvalidInput("the query is empty")
    query = query.strip()
    if len(query) > max_chars:
        raise InvalidInput(f"the query has {len(query)} characters; the limit is {max_chars}")
    return query


def injection_flags(text: str) -> list[str]:
    """Names of the prompt-injection patterns found in ``text`` (empty: none)."""
    return [name for name, pattern in INJECTION_PATTERNS.items() if pattern.search(text)]


def _phone(match: re.Match[str]) -> str:
    digits = sum(ch.isdigit() for ch in match.group(0))
    return PHONE_MASK if 9 <= digits <= 15 else match.group(0)


def mask_pii(text: str) -> str:
    """``text`` with email addresses and phone numbers replaced by ``[email]`` / ``[phone]``."""
    return PHONE.sub(_phone, EMAIL.sub(EMAIL_MASK, text))


def _safe_cut(raw: str) -> int:
    """Where ``raw`` can be cut without splitting a possible email or phone number: before
    its last word (an address grows until whitespace) and before a trailing run of phone
    characters that holds a digit (a number grows across spaces)."""
    cut = len(raw) - len(raw.split()[-1]) if raw and not raw[-1].isspace() else len(raw)
    run = _PHONE_TAIL.search(raw)
    if run is not None and any(ch.isdigit() for ch in run.group(0)):
        cut = min(cut, run.start())
    return cut


_PHONE_TAIL = re.compile(r"[\d\s().+-]*$")


def mask_stream(deltas: Iterable[str]) -> Iterator[str]:
    """Mask PII in a stream of text deltas.

    Text is passed on as soon as no email address or phone number can still straddle it: the
    current last word (and a trailing run of digits) is held until more text arrives or the
    stream ends, so an address split across deltas is masked whole while words flow at once.
    """
    raw = ""
    emitted = 0
    for delta in deltas:
        raw += delta
        cut = _safe_cut(raw)
        if cut > emitted:
            yield mask_pii(raw[emitted:cut])
            emitted = cut
    if len(raw) > emitted:
        yield mask_pii(raw[emitted:])
