"""The continued-pretraining corpus: the author's cleaned documents that training may see.

The documents come from the feature store (the vector store's cleaned documents; or from a
documents file, which is how a SageMaker job gets them) for the authors of the instruct dataset;
the documents of the instruct test split are held out
(:mod:`llm_twin.application.dataset.heldout`), so no stage ever trains on a document the
evaluation scores. The corpus digest (ids and content hashes) goes into the run's fingerprint:
an edited, added or removed document trains a new version; the same documents reuse it.
"""

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

from llm_twin.application.dataset.heldout import held_out_document_ids, partition_documents
from llm_twin.application.dataset.samples import SourceDocument
from llm_twin.application.dataset.sources import read_cleaned_documents
from llm_twin.domain.exceptions import InvalidInput

if TYPE_CHECKING:
    from collections.abc import Sequence

    from datasets import DatasetDict

    from llm_twin.model.finetuning.pt_config import PTStageConfig
    from llm_twin.settings import Settings


@dataclasses.dataclass(frozen=True)
class PretrainingCorpus:
    """The documents the pt stage trains on.

    Attributes:
        documents: The trainable documents, in the feature store's order (category, link).
        held_out_ids: Ids of the documents held out for evaluation (never in ``documents``).
        authors: The authors whose documents were read (empty: every author).
    """

    documents: tuple[SourceDocument, ...]
    held_out_ids: frozenset[str]
    authors: tuple[str, ...] = ()

    @property
    def digest(self) -> str:
        """A hash of the trainable documents' ids and contents (order-independent)."""
        entries = sorted(
            (document.document_id, hashlib.sha256(document.content.encode()).hexdigest())
            for document in self.documents
        )
        return hashlib.sha256(json.dumps(entries).encode()).hexdigest()[:16]

    def save(self, path: Path) -> Path:
        """Write the corpus's lineage (digest, authors, the documents trained on, the ids held
        out) to ``path`` as JSON, for the record of what the stage saw.

        Args:
            path: The JSON file to write (its folder is created).
        """
        record = {
            "digest": self.digest,
            "authors": list(self.authors),
            "documents": [
                {"document_id": d.document_id, "category": d.category, "link": d.link}
                for d in self.documents
            ],
            "held_out_ids": sorted(self.held_out_ids),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, indent=1))
        return path


def dataset_authors(instruct: "DatasetDict") -> tuple[str, ...]:
    """The authors of an instruct dataset's rows (empty when it records none).

    Args:
        instruct: The instruct ``DatasetDict``.
    """
    names: set[str] = set()
    for split in instruct.values():
        if "author_full_name" in split.column_names:
            names.update(str(name) for name in split["author_full_name"] if name)
    return tuple(sorted(names))


def build_corpus(
    documents: "Sequence[SourceDocument]", instruct: "DatasetDict", categories: "Sequence[str]"
) -> PretrainingCorpus:
    """The trainable documents among ``documents``: the instruct dataset's authors', of
    ``categories``, minus the held-out ones (the instruct test split's).

    Args:
        documents: Cleaned documents (the feature store's, or a documents file's).
        instruct: The instruct dataset the run trains on (its authors and its test split).
        categories: Only these categories (empty: all).

    Raises:
        InvalidInput: no trainable document (none cleaned yet, or all of them held out).
    """
    authors = dataset_authors(instruct)
    held_out = held_out_document_ids(instruct)
    selected = [
        document
        for document in documents
        if document.content.strip()
        and (not authors or document.author_full_name in authors)
        and (not categories or document.category in categories)
    ]
    trainable, _ = partition_documents(selected, held_out)
    if not trainable:
        scope = f" of {', '.join(authors)}" if authors else ""
        raise InvalidInput(
            f"the pt stage has no document to train on: {len(selected)} cleaned document(s)"
            f"{scope}, {len(selected) - len(trainable)} of them held out (the instruct test "
            "split). Run the feature engineering pipeline first, or set pt.enabled: false"
        )
    return PretrainingCorpus(tuple(trainable), frozenset(held_out), authors)


def write_documents_file(documents: "Sequence[SourceDocument]", path: Path) -> Path:
    """Write ``documents`` as JSON Lines (one :class:`SourceDocument` per line) to ``path``.

    Args:
        documents: The documents.
        path: The file (its folder is created).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(document.to_dict(), ensure_ascii=False) for document in documents]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def read_documents_file(path: Path) -> list[SourceDocument]:
    """The documents of a JSON Lines file written by :func:`write_documents_file`.

    Raises:
        InvalidInput: the file is missing or a line is not a document.
    """
    if not path.is_file():
        raise InvalidInput(f"pt.documents_file {path} does not exist")
    documents = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            documents.append(SourceDocument(**json.loads(line)))
        except (ValueError, TypeError) as error:
            raise InvalidInput(f"{path}:{number} is not a document: {error}") from None
    return documents


def load_corpus(
    settings: "Settings", instruct: "DatasetDict", pt: "PTStageConfig"
) -> PretrainingCorpus:
    """:func:`build_corpus` on the documents of ``pt.documents_file`` when set (relative to
    ``DATA_DIR``), else on the feature store's (the vector store the settings name, opened and
    closed here).

    Args:
        settings: Which vector store (``QDRANT_URL``, the embedded store under ``DATA_DIR``).
        instruct: The instruct dataset the run trains on.
        pt: The pt stage's settings (``categories``, ``documents_file``).
    """
    if pt.documents_file:
        path = settings.storage.data_dir / Path(pt.documents_file).expanduser()
        return build_corpus(read_documents_file(path), instruct, pt.categories)
    from llm_twin.infrastructure.db.vector_store import open_vector_store

    with open_vector_store(settings) as store:
        documents = read_cleaned_documents(store, dataset_authors(instruct), pt.categories)
    return build_corpus(documents, instruct, pt.categories)
