"""Labelled questions: a question and the links of the documents that answer it.

Two sources, reported separately and combined:

- ``generated``: the ``test`` split of the instruct dataset. Dataset generation cuts every
  document into extracts, writes one instruction per extract (with the document's ``link``
  kept in the row) and splits by *document* (``dataset/split.py``): a test document has no
  extract in the training split, so the fine-tuned twin never saw it. The RAG index holds
  every document, so for retrieval each test row is a question whose source is known.
- ``user``: an optional JSONL file of ``{"question", "links": [...], "author"?}`` objects.
"""

import json
import random
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llm_twin.domain.exceptions import InvalidInput

GENERATED = "generated"
USER = "user"


@dataclass(frozen=True)
class LabelledQuestion:
    """One evaluation question.

    Attributes:
        question: The question (or instruction) as a user would send it.
        links: Links of the documents that answer it (a hit is any of them).
        source: ``generated`` or ``user``.
        author: Restrict retrieval to this author (``None``: no restriction).
        meta: Where the question comes from (dataset row id, file line).
    """

    question: str
    links: tuple[str, ...]
    source: str
    author: str | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False)


def resolve_path(path: str | Path) -> Path:
    """``path`` as given when absolute or present in the working directory, else relative to
    the project root (configs name repository files such as ``bench/rag_dev_questions.jsonl``)."""
    from llm_twin.settings import PROJECT_ROOT

    candidate = Path(path).expanduser()
    if candidate.is_absolute() or candidate.exists():
        return candidate
    return PROJECT_ROOT / candidate


def load_questions_file(path: str | Path) -> list[LabelledQuestion]:
    """The questions of a JSONL file, all validated before any is used.

    Raises:
        InvalidInput: unreadable file, or a line that is not JSON or not an object with a
            non-empty ``question`` and a non-empty list of ``links`` strings (names the line).
    """
    resolved = resolve_path(path)
    try:
        lines = resolved.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise InvalidInput(f"cannot read questions file {resolved}: {error.strerror}") from None
    expected = '{"question": "...", "links": ["https://..."]}'
    questions = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{resolved}:{number}"
        try:
            item = json.loads(line)
        except json.JSONDecodeError as error:
            raise InvalidInput(f"{where}: invalid JSON ({error.msg})") from None
        if not isinstance(item, dict):
            raise InvalidInput(f"{where}: expected an object {expected}")
        question, links = item.get("question"), item.get("links")
        if not isinstance(question, str) or not question.strip():
            raise InvalidInput(f"{where}: 'question' must be a non-empty string")
        if (
            not isinstance(links, list)
            or not links
            or not all(isinstance(link, str) and link.strip() for link in links)
        ):
            raise InvalidInput(f"{where}: 'links' must be a non-empty list of URLs")
        author = item.get("author")
        if author is not None and not isinstance(author, str):
            raise InvalidInput(f"{where}: 'author' must be a string or null")
        questions.append(
            LabelledQuestion(
                question.strip(),
                tuple(link.strip() for link in links),
                USER,
                author or None,
                {"line": number},
            )
        )
    if not questions:
        raise InvalidInput(f"questions file {resolved} holds no questions")
    return questions


def hide_title(question: str, title: str | None) -> str:
    """``question`` with the document's ``title`` (quoted or not, any case) replaced by
    "this topic"."""
    if not title or not title.strip():
        return question
    pattern = re.compile(r"[\"“']?" + re.escape(title.strip()) + r"[\"”']?", re.IGNORECASE)
    return pattern.sub("this topic", question)


def spread_sample(rows: Sequence[dict[str, Any]], limit: int, seed: int) -> list[dict[str, Any]]:
    """At most ``limit`` rows (0: all), spread over documents: a seeded round-robin over the
    documents (each document's rows in seeded order), so a long document does not fill the
    sample; the result keeps the input order."""
    if not limit or len(rows) <= limit:
        return list(rows)
    rng = random.Random(seed)
    by_document: dict[str, list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        by_document[str(row.get("link") or row.get("document_id") or index)].append(index)
    queues = [by_document[key] for key in sorted(by_document)]
    rng.shuffle(queues)
    for queue in queues:
        rng.shuffle(queue)
    chosen: list[int] = []
    while len(chosen) < limit:
        for queue in queues:
            if queue and len(chosen) < limit:
                chosen.append(queue.pop())
    return [rows[i] for i in sorted(chosen)]


def generated_questions(
    data_dir: Path,
    *,
    version: str = "latest",
    limit: int = 0,
    seed: int = 42,
    hide_titles: bool = True,
) -> tuple[list[LabelledQuestion], str]:
    """Questions from the test split of the instruct dataset, and the dataset version read.

    Args:
        data_dir: ``DATA_DIR`` (datasets live under ``DATA_DIR/datasets``).
        version: Dataset version (``latest`` or a saved one).
        limit: At most this many (0: all), see :func:`spread_sample`.
        seed: Sample seed.
        hide_titles: See :func:`hide_title`.

    Raises:
        InvalidInput: no instruct dataset (the message says which pipeline makes one), or
            its test split is empty or lacks the ``link`` column.
    """
    from llm_twin.application.dataset import store

    path = store.resolve(data_dir, "instruct", version)
    test = store.load(data_dir, "instruct", path.name)["test"]
    if "link" not in test.column_names:
        raise InvalidInput(f"instruct dataset {path.name} has no 'link' column in its test split")
    rows = [row for row in test if row.get("link") and str(row.get("instruction", "")).strip()]
    if not rows:
        raise InvalidInput(
            f"the test split of instruct dataset {path.name} has no rows with a link: "
            "regenerate it with test_size > 0"
        )
    # Grounded samples carry a reader's question (their instruction quotes the context).
    rows = [row for row in rows if row.get("question")] or rows
    questions = []
    for row in spread_sample(rows, limit, seed):
        text = str(row.get("question") or row["instruction"]).strip()
        if hide_titles:
            text = hide_title(text, row.get("title"))
        questions.append(
            LabelledQuestion(
                text,
                (str(row["link"]),),
                GENERATED,
                None,
                {"document_id": row.get("document_id"), "extract": row.get("extract_index")},
            )
        )
    return questions, path.name
