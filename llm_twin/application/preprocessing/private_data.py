"""Mask other people's e-mail addresses and phone numbers before text reaches the vector store
and the datasets built from it.

The author's own addresses are kept: an address whose local part is made of the author's name
(``jane.doe@``, ``janedoe@``, ``jdoe@``, ``jane@`` for Jane Doe) or one listed in ``keep``.
Phone numbers cannot be told apart by name, so all are masked unless listed in ``keep``; to keep
technical numbers intact, only international (``+1 …``), parenthesised-area, dashed or
trunk-0 national formats count as phone numbers.
"""

import re
import unicodedata
from collections.abc import Iterable

from pydantic import BaseModel, Field

from llm_twin.domain.features import CleanedDocument

EMAIL_MASK = "[email]"
PHONE_MASK = "[phone]"

_EMAIL = re.compile(r"(?<![\w.+-])([\w.+-]+)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
#: A phone number: optional +country code, optional (area), then groups split by spaces, dots
#: or dashes. Candidates are checked by :func:`_is_phone` (digit count, no dates or versions).
_PHONE = re.compile(
    r"(?<![\w.+/-])(\+\s?\d{1,3}[\s.-]?)?(\(\d{1,4}\)[\s.-]?)?\d{2,4}(?:[\s.-]\d{2,5}){1,4}(?![\w/-])"
)
_MIN_PHONE_DIGITS = 9
_MAX_PHONE_DIGITS = 15


class PrivateDataConfig(BaseModel):
    """What cleaning masks.

    Attributes:
        enabled: Mask e-mail addresses and phone numbers of anyone but the author.
        keep: Addresses and numbers never masked (the author's own, a project's public
            contact); numbers compare by digits only.
    """

    enabled: bool = True
    keep: list[str] = Field(default_factory=list)


def mask_private_data(
    text: str, author_full_name: str = "", keep: Iterable[str] = ()
) -> tuple[str, int]:
    """``text`` with other people's e-mail addresses and phone numbers masked, and how many
    were masked.

    Args:
        text: Cleaned text.
        author_full_name: The author, whose own addresses are kept.
        keep: Addresses and phone numbers never masked.
    """
    kept = {item.strip().casefold() for item in keep}
    kept_digits = {_digits(item) for item in keep if len(_digits(item)) >= _MIN_PHONE_DIGITS}
    names = _name_forms(author_full_name)
    masked = 0

    def email(match: re.Match[str]) -> str:
        nonlocal masked
        address = match.group(0)
        if address.casefold() in kept or _fold(match.group(1)) in names:
            return address
        masked += 1
        return EMAIL_MASK

    def phone(match: re.Match[str]) -> str:
        nonlocal masked
        number = match.group(0)
        if not _is_phone(number) or _digits(number) in kept_digits:
            return number
        masked += 1
        return PHONE_MASK

    text = _EMAIL.sub(email, text)
    return _PHONE.sub(phone, text), masked


def _is_phone(candidate: str) -> bool:
    digits = _digits(candidate)
    if not _MIN_PHONE_DIGITS <= len(digits) <= _MAX_PHONE_DIGITS:
        return False
    if candidate.startswith("+") or "(" in candidate:
        return True
    if re.match(r"\d{4}-\d{2}-\d{2}", candidate):
        return False  # a date (and time)
    # Without a country code or an area code in parentheses, only dashed groups (415-555-0134)
    # or a national number with a trunk 0 (020 7946 0958) count: space-separated numbers are
    # far more often sizes or counts in technical writing ("512 768 1024"), dotted ones
    # versions or IP addresses.
    return "-" in candidate or (candidate.startswith("0") and " " in candidate)


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _fold(text: str) -> str:
    """Lower-case letters only, accents removed: ``Jane.Doe+blog`` → ``janedoe``."""
    base = text.split("+", 1)[0]
    ascii_text = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z]", "", ascii_text.casefold())


def _name_forms(full_name: str) -> set[str]:
    """The local parts an author's own address may have."""
    parts = [_fold(part) for part in full_name.split() if _fold(part)]
    if not parts:
        return set()
    first, last = parts[0], parts[-1]
    return {first, last, first + last, last + first, first[0] + last, first + last[0],
            "".join(parts)}  # fmt: skip


def mask_documents(
    documents: list[CleanedDocument], config: PrivateDataConfig
) -> list[CleanedDocument]:
    """``documents`` with private data masked in their text (unchanged when disabled)."""
    if not config.enabled:
        return documents
    masked = []
    for document in documents:
        text, count = mask_private_data(document.content, document.author_full_name, config.keep)
        masked.append(document.model_copy(update={"content": text}) if count else document)
    return masked
