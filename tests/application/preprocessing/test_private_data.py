"""Cleaning masks other people's e-mail addresses and phone numbers, keeps the author's own
and technical numbers."""

import uuid

import pytest

from llm_twin.application.preprocessing.private_data import (
    EMAIL_MASK,
    PHONE_MASK,
    PrivateDataConfig,
    mask_documents,
    mask_private_data,
)
from llm_twin.application.preprocessing.sync import FeatureSyncConfig
from llm_twin.domain.features import CleanedDocument
from llm_twin.domain.types import DataCategory


def test_other_peoples_addresses_and_numbers_are_masked_the_authors_kept() -> None:
    text = (
        "Thanks to Sam Park (sam.park@example.org, +1 415 555 0134) for reviewing; write to me "
        "at jane.doe@example.com or jdoe@corp.example, or call Sam's office on 415-555-0199."
    )
    masked, count = mask_private_data(text, "Jane Doe")
    assert count == 3
    assert "sam.park@example.org" not in masked and "415" not in masked
    assert masked.count(EMAIL_MASK) == 1 and masked.count(PHONE_MASK) == 2
    assert "jane.doe@example.com" in masked and "jdoe@corp.example" in masked


@pytest.mark.parametrize(
    "number", ["+44 20 7946 0958", "(415) 555 0134", "020 7946 0958", "415-555-0134"]
)
def test_phone_formats(number: str) -> None:
    assert mask_private_data(f"call {number} today", "Jane Doe") == (
        f"call {PHONE_MASK} today",
        1,
    )


@pytest.mark.parametrize(
    "text",
    [
        "hidden sizes 512 768 1024 and 4096 8192 1638",
        "published 2024-05-21 10:00:00",
        "server 192.168.100.200, version 1.2.3.4567",
        "pip install torch==2.13.0",
        "an ISBN-less number 1234567890123",
        "decorators like @property and user@ without a domain",
    ],
)
def test_technical_text_is_left_alone(text: str) -> None:
    assert mask_private_data(text, "Jane Doe") == (text, 0)


def test_kept_contacts_and_the_switch() -> None:
    text = "Press: press@example.org, +1 415 555 0100."
    assert mask_private_data(text, "Jane Doe", keep=["press@example.org", "+14155550100"]) == (
        text,
        0,
    )
    document = CleanedDocument(
        id=uuid.uuid4(), document_id=uuid.uuid4(), category=DataCategory.ARTICLES,
        author_id=uuid.uuid4(), author_full_name="Jane Doe", platform="blog", link="https://x/",
        content=text, source_hash="h",
    )  # fmt: skip
    assert mask_documents([document], PrivateDataConfig(enabled=False)) == [document]
    (masked,) = mask_documents([document], PrivateDataConfig())
    assert masked.content == f"Press: {EMAIL_MASK}, {PHONE_MASK}."
    assert FeatureSyncConfig().private_data.enabled  # on by default
