import pytest

from llm_twin.application.dataset import store
from llm_twin.domain.exceptions import InvalidInput


def _instruct(rows):
    from datasets import Dataset, DatasetDict

    return DatasetDict(
        {
            "train": Dataset.from_list(rows),
            "test": Dataset.from_list(rows[:1]),
        }
    )


ROWS = [
    {"instruction": "Explain LoRA.", "answer": "LoRA freezes the base weights."},
    {"instruction": "Explain DPO.", "answer": "DPO learns from preference pairs."},
]


def test_save_load_and_idempotent_versions(tmp_path):
    version, path, created = store.save(tmp_path, "instruct", _instruct(ROWS), "# card")
    assert created and (path / "README.md").read_text() == "# card"
    again, _, created_again = store.save(tmp_path, "instruct", _instruct(ROWS), "# card")
    assert again == version and not created_again
    assert store.versions(tmp_path, "instruct") == [version]
    loaded = store.load(tmp_path, "instruct")
    assert loaded["train"].to_list() == ROWS

    changed, _, _ = store.save(tmp_path, "instruct", _instruct(ROWS[::-1]), "# card")
    assert changed != version
    assert store.resolve(tmp_path, "instruct").name == changed
    assert store.load(tmp_path, "instruct", version)["train"].to_list() == ROWS


def test_bad_datasets_and_missing_versions_are_named(tmp_path):
    with pytest.raises(InvalidInput, match=r"lacks column\(s\) \['answer'\]"):
        store.save(tmp_path, "instruct", _instruct([{"instruction": "x"}]), "")
    with pytest.raises(InvalidInput, match="no preference dataset"):
        store.load(tmp_path, "preference")
    with pytest.raises(InvalidInput, match="unknown dataset kind"):
        store.versions(tmp_path, "pretraining")
    store.save(tmp_path, "instruct", _instruct(ROWS), "")
    with pytest.raises(InvalidInput, match="version 'v0' not found"):
        store.load(tmp_path, "instruct", "v0")
