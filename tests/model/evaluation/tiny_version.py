"""A registered twin version built for real on the tiny Llama (SFT + DPO, a few steps), with an
instruct dataset whose test split has three rows from one held-out document, and that document
(plus a training document) in the feature store: what the evaluation tests evaluate."""

from pathlib import Path

from tests.model.conftest import FACTS, PAIRS, build_tiny_model, tiny_config

#: The document the training rows come from, and the held-out one of the test rows.
TRAIN_DOCUMENT = "00000000-0000-4000-8000-00000000000a"
HELDOUT_DOCUMENT = "00000000-0000-4000-8000-00000000000b"
#: Their cleaned texts: the held-out document is the test rows' answers (which the tiny twin
#: learns, so its held-out-document perplexity drops); the training document never is scored.
HELDOUT_TEXT = " ".join(answer for _, answer in FACTS[:3])
TRAIN_TEXT = " ".join(answer for _, answer in FACTS[3:])


def save_evaluation_datasets(data_dir: Path) -> None:
    """Instruct (test split: three of the facts, so the trained models know them) and
    preference datasets in ``data_dir``'s store."""
    from datasets import Dataset, DatasetDict

    from llm_twin.application.dataset import store

    def split(rows: list[tuple[str, ...]], names: tuple[str, ...]) -> Dataset:
        return Dataset.from_dict({name: [row[i] for row in rows] for i, name in enumerate(names)})

    instruct = ("instruction", "answer", "document_id")
    preference = ("prompt", "chosen", "rejected")
    store.save(
        data_dir,
        "instruct",
        DatasetDict(
            train=split([(*row, TRAIN_DOCUMENT) for row in FACTS], instruct),
            test=split([(*row, HELDOUT_DOCUMENT) for row in FACTS[:3]], instruct),
        ),
        "# tiny instruct set\n",
    )
    store.save(
        data_dir,
        "preference",
        DatasetDict(train=split(PAIRS, preference), test=split(PAIRS[:1], preference)),
        "# tiny preference set\n",
    )


def index_cleaned_documents(data_dir: Path) -> None:
    """The training and the held-out document as cleaned documents in ``data_dir``'s embedded
    vector store (the feature store the evaluation reads held-out texts from)."""
    from llm_twin.domain.features import CLEANED_DOCUMENTS_COLLECTION
    from llm_twin.domain.vectors import VectorPoint
    from llm_twin.infrastructure.db.vector_store import open_vector_store
    from llm_twin.settings import Settings

    documents = [
        (TRAIN_DOCUMENT, "articles", TRAIN_TEXT),
        (HELDOUT_DOCUMENT, "posts", HELDOUT_TEXT),
    ]
    with open_vector_store(Settings(_env_file=None, DATA_DIR=data_dir)) as store:
        store.ensure_collection(CLEANED_DOCUMENTS_COLLECTION, 2)
        store.upsert(
            CLEANED_DOCUMENTS_COLLECTION,
            [
                VectorPoint(
                    id=document_id,
                    vector=[1.0, float(number)],
                    payload={
                        "document_id": document_id,
                        "category": category,
                        "author_full_name": "Tiny Author",
                        "link": f"https://example.com/{number}",
                        "title": f"Document {number}",
                        "content": text,
                    },
                )
                for number, (document_id, category, text) in enumerate(documents)
            ],
        )


def train_tiny_version(data_dir: Path, base_dir: Path) -> int:
    """Build the tiny base model in ``base_dir``, train SFT + DPO on the datasets saved in
    ``data_dir`` and register the result (no ZenML); index the cleaned documents; return the
    version number."""
    import torch

    from llm_twin.model.finetuning.run import run_training
    from llm_twin.model.registry import ModelRegistry, registry_root
    from llm_twin.settings import Settings

    torch.set_num_threads(1)
    build_tiny_model(base_dir)
    save_evaluation_datasets(data_dir)
    index_cleaned_documents(data_dir)
    settings = Settings(_env_file=None, DATA_DIR=data_dir)
    config = tiny_config(base_dir, sft={"max_steps": 20}, dpo={"max_steps": 4})
    outcome = run_training(config, settings)
    registry = ModelRegistry(registry_root(settings), config.model_name, zenml=False)
    return registry.register(outcome, config).version
