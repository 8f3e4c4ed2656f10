"""The held-out documents the held-out-document perplexity scores: only the test split's
documents, read from the feature store, cut to the token budget so every document counts."""

from pathlib import Path

import pytest

from llm_twin.model.evaluation.heldout import heldout_texts, opening, select_texts, token_shares
from tests.model.conftest import build_tiny_model
from tests.model.evaluation.tiny_version import (
    HELDOUT_TEXT,
    TRAIN_TEXT,
    index_cleaned_documents,
    save_evaluation_datasets,
)


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-heldout"))


@pytest.fixture(scope="module")
def tokenizer(tokenizer_dir: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tokenizer_dir)


def test_token_shares_split_the_budget_evenly_and_pass_on_what_short_documents_leave() -> None:
    assert token_shares([10, 100, 1000], 0) == [10, 100, 1000]  # no cap
    assert token_shares([10, 100], 500) == [10, 100]  # fits
    # 300 over three: the short one takes its 10, the others split the remaining 290.
    assert token_shares([10, 100, 1000], 300) == [10, 100, 190]
    assert token_shares([400, 400], 300) == [150, 150]


def test_selected_texts_are_openings_within_the_budget(tokenizer) -> None:
    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    whole = select_texts(tokenizer, [HELDOUT_TEXT, "  ", TRAIN_TEXT], 0)
    assert whole.texts == [HELDOUT_TEXT, TRAIN_TEXT] and whole.documents == 2
    assert whole.tokens_selected == whole.tokens_total == count(HELDOUT_TEXT) + count(TRAIN_TEXT)
    capped = select_texts(tokenizer, [HELDOUT_TEXT, TRAIN_TEXT], 20)
    assert capped.tokens_selected == 20 and capped.tokens_total == whole.tokens_total
    for text, opening_text in zip(whole.texts, capped.texts, strict=True):
        # Each document's opening: exactly the text of its first 10 tokens.
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert opening_text == tokenizer.decode(ids[:10]) and text.startswith(opening_text)
    assert capped.digest != whole.digest and capped.describe()["capped"] is True
    assert opening(tokenizer, HELDOUT_TEXT, 10_000) == HELDOUT_TEXT
    assert select_texts(tokenizer, ["", " "], 10).reason == "the held-out documents have no text"


def test_only_the_test_split_documents_are_read(tmp_path: Path, tokenizer_dir: Path) -> None:
    from llm_twin.application.dataset import store
    from llm_twin.settings import Settings

    data_dir = tmp_path / "data"
    settings = Settings(_env_file=None, DATA_DIR=data_dir)
    save_evaluation_datasets(data_dir)
    instruct = store.load(data_dir, "instruct")
    missing = heldout_texts(settings, instruct, str(tokenizer_dir), 0)
    assert missing.texts == [] and "none of the 1 held-out documents" in missing.reason

    index_cleaned_documents(data_dir)
    found = heldout_texts(settings, instruct, str(tokenizer_dir), 0)
    assert found.texts == [HELDOUT_TEXT] and found.documents == 1 and found.reason is None

    no_ids = instruct.remove_columns("document_id")
    assert "no document_id" in heldout_texts(settings, no_ids, str(tokenizer_dir), 0).reason
