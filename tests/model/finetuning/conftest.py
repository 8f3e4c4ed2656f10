"""Fixtures of the continued-pretraining (pt) tests: cleaned documents in an embedded vector store
(an author's train documents, one held-out test document, another author's document) and an
instruct dataset whose rows name those documents, in a temp DATA_DIR."""

import uuid
from pathlib import Path

from tests.model.conftest import FACTS, PAIRS, tiny_config

AUTHOR = "Ada Writer"
#: The author's memorisable prose: the train documents repeat it.
AUTHOR_TEXT = (
    "Small models learn the voice of their author when they read her words again and again. "
    "I write about LoRA, quantization and the joy of shipping models on a laptop. "
)
#: Text only the held-out document holds: no training block may contain it.
HELD_OUT_TEXT = "Zebra quartz violin: the held-out document that no stage may read."
#: ``(document_id, author, content)`` of the cleaned documents.
DOCUMENTS = [
    ("doc-train-1", AUTHOR, AUTHOR_TEXT * 3),
    ("doc-train-2", AUTHOR, AUTHOR_TEXT * 2),
    ("doc-train-3", AUTHOR, AUTHOR_TEXT * 3),
    ("doc-test", AUTHOR, HELD_OUT_TEXT),
    ("doc-other", "Someone Else", "Another author's text about gardening and tomatoes."),
]
TRAIN_IDS = {"doc-train-1", "doc-train-2", "doc-train-3"}


def save_documents(data_dir: Path, documents: list[tuple[str, str, str]] = DOCUMENTS) -> None:
    """Write ``documents`` as cleaned documents into the embedded vector store of ``data_dir``
    (replacing what is there)."""
    from llm_twin.domain.features import CLEANED_DOCUMENTS_COLLECTION
    from llm_twin.domain.vectors import VectorPoint
    from llm_twin.infrastructure.db.vector_store import open_vector_store
    from llm_twin.settings import Settings

    with open_vector_store(Settings(_env_file=None, DATA_DIR=data_dir)) as store:
        if store.collection_exists(CLEANED_DOCUMENTS_COLLECTION):
            store.delete_collection(CLEANED_DOCUMENTS_COLLECTION)
        store.ensure_collection(CLEANED_DOCUMENTS_COLLECTION, 4)
        points = [
            VectorPoint(
                str(uuid.uuid5(uuid.NAMESPACE_URL, document_id)),
                [1.0, float(index), 0.0, 0.5],
                {
                    "document_id": document_id,
                    "category": "articles",
                    "author_full_name": author,
                    "link": f"https://example.com/{document_id}",
                    "title": document_id,
                    "content": content,
                },
            )
            for index, (document_id, author, content) in enumerate(documents)
        ]
        store.upsert(CLEANED_DOCUMENTS_COLLECTION, points)


def save_pt_datasets(data_dir: Path) -> dict[str, str]:
    """Instruct rows from the train documents (test row: the held-out document) and the tiny
    preference set, saved in ``data_dir``'s dataset store; return the versions."""
    from datasets import Dataset, DatasetDict

    from llm_twin.application.dataset import store

    train_ids = sorted(TRAIN_IDS)

    def rows(facts: list[tuple[str, str]], ids: list[str]) -> Dataset:
        return Dataset.from_dict(
            {
                "instruction": [question for question, _ in facts],
                "answer": [answer for _, answer in facts],
                "document_id": ids,
                "category": ["articles"] * len(facts),
                "author_full_name": [AUTHOR] * len(facts),
            }
        )

    instruct = DatasetDict(
        train=rows(FACTS, [train_ids[i % len(train_ids)] for i in range(len(FACTS))]),
        test=rows(FACTS[:1], ["doc-test"]),
    )
    preference = DatasetDict(
        train=Dataset.from_dict(
            {
                "prompt": [p for p, _, _ in PAIRS],
                "chosen": [c for _, c, _ in PAIRS],
                "rejected": [r for _, _, r in PAIRS],
            }
        ),
        test=Dataset.from_dict(
            {"prompt": [PAIRS[0][0]], "chosen": [PAIRS[0][1]], "rejected": [PAIRS[0][2]]}
        ),
    )
    instruct_version, _, _ = store.save(data_dir, "instruct", instruct, "# pt test instruct\n")
    preference_version, _, _ = store.save(data_dir, "preference", preference, "# pt prefs\n")
    return {"instruct": instruct_version, "preference": preference_version}


def pt_config(base: Path, **overrides):
    """A tiny-model config with the pt stage on (fast CPU steps; short SFT and DPO)."""
    pt = {
        "enabled": True,
        "block_size": 32,
        "max_steps": 30,
        "learning_rate": 1e-2,
        "batch_size": 4,
        "gradient_accumulation_steps": 1,
        "warmup_ratio": 0.0,
        "lr_scheduler": "constant",
        "save_steps": 10,
        "eval_blocks": 1,
    }
    pt |= overrides.pop("pt", {})
    values = {
        "pt": pt,
        "sft": {"max_steps": 4, "save_steps": 4},
        "dpo": {"max_steps": 2, "save_steps": 2},
    }
    for key, value in overrides.items():
        values[key] = values[key] | value if isinstance(values.get(key), dict) else value
    return tiny_config(base, **values)
