from datasets import Dataset, DatasetDict

from llm_twin.application.dataset.heldout import held_out_document_ids, partition_documents
from llm_twin.application.dataset.samples import SourceDocument


def _document(document_id: str) -> SourceDocument:
    return SourceDocument(document_id, "articles", "Ada", f"https://a.test/{document_id}", "", "x")


def test_held_out_ids_come_from_the_test_split_only():
    instruct = DatasetDict(
        train=Dataset.from_dict({"document_id": ["a", "b"], "instruction": ["i", "j"]}),
        test=Dataset.from_dict({"document_id": ["c", "c", ""], "instruction": ["k", "l", "m"]}),
    )
    assert held_out_document_ids(instruct) == {"c"}


def test_partition_keeps_order_and_never_mixes():
    documents = [_document(name) for name in "abcd"]
    trainable, held_out = partition_documents(documents, {"b", "d"})
    assert [d.document_id for d in trainable] == ["a", "c"]
    assert [d.document_id for d in held_out] == ["b", "d"]


def test_a_dataset_without_test_split_holds_nothing_out():
    instruct = DatasetDict(train=Dataset.from_dict({"document_id": ["a"]}))
    assert held_out_document_ids(instruct) == set()
