"""Publication dates: time scopes read from questions, dates in payloads, and the date filter
inside the vector search of both backends (undated documents kept unless asked)."""

import datetime as dt
import uuid

import pytest

from llm_twin.application.publication import DateRange, publication_day, publication_payload
from llm_twin.application.rag.self_query import parse_time_scope
from llm_twin.domain.documents import ArticleDocument
from llm_twin.infrastructure.db.edge_vector_store import open_edge_vector_store
from llm_twin.infrastructure.db.qdrant_client_store import open_local_vector_store
from llm_twin.infrastructure.db.vector_store import VectorPoint

TODAY = dt.date(2025, 3, 1)
D = dt.date


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What did Jane write in 2024?", DateRange(D(2024, 1, 1), D(2024, 12, 31))),
        ("her posts of March 2024 on RAG", DateRange(D(2024, 3, 1), D(2024, 3, 31))),
        ("anything since 2023?", DateRange(after=D(2023, 1, 1))),
        ("articles after May 2023", DateRange(after=D(2023, 6, 1))),
        ("what came before 2022", DateRange(before=D(2021, 12, 31))),
        ("between 2021 and 2023", DateRange(D(2021, 1, 1), D(2023, 12, 31))),
        ("what did he post last year", DateRange(D(2024, 1, 1), D(2024, 12, 31))),
        ("his latest posts about agents", DateRange(after=D(2024, 9, 2))),
        ("What has she written recently?", DateRange(after=D(2024, 9, 2))),
        ("How does LoRA work?", None),
        ("Explain the 2024 benchmark numbers", None),
    ],
)
def test_time_scopes(question: str, expected: DateRange | None) -> None:
    assert parse_time_scope(question, today=TODAY) == expected


def document(published: str | None, tags: list[str] | None = None) -> ArticleDocument:
    content: dict = {"Title": "T", "Content": "text"}
    if published:
        content["Published"] = published
    if tags:
        content["Tags"] = tags
    return ArticleDocument(
        content=content, platform="blog", link="https://x/", author_id=uuid.uuid4(),
        author_full_name="Jane Doe",
    )  # fmt: skip


def test_payload_has_the_date_as_day_number_and_the_tags() -> None:
    assert publication_payload(document("2024-05-21T08:00:00+00:00", ["rag"])) == {
        "published": "2024-05-21",
        "published_day": 20240521,
        "tags": ["rag"],
    }
    assert publication_payload(document(None)) == {}
    assert publication_day(document("May 21, 2024")) is None  # only ISO dates are read


@pytest.fixture(params=["edge", "local"])
def store(request, tmp_path):
    opener = open_edge_vector_store if request.param == "edge" else open_local_vector_store
    with opener(tmp_path / request.param) as opened:
        yield opened


def test_date_filter_inside_the_search_keeps_undated_unless_asked(store) -> None:
    store.ensure_collection("c", 2)
    days = {"a": 20231110, "b": 20240315, "c": 20241201, "undated": None}
    store.upsert(
        "c",
        [
            VectorPoint(
                id=uuid.uuid5(uuid.NAMESPACE_URL, name),
                vector=[1.0, 0.1 * index],
                payload={"name": name, **({"published_day": day} if day else {})},
            )
            for index, (name, day) in enumerate(days.items())
        ],
    )
    in_2024 = DateRange(D(2024, 1, 1), D(2024, 12, 31))
    found = {hit.payload["name"] for hit in store.search("c", [1, 0], where=in_2024.where())}
    assert found == {"b", "c", "undated"}
    dated_only = DateRange(after=D(2024, 6, 1), include_undated=False)
    found = {hit.payload["name"] for hit in store.search("c", [1, 0], where=dated_only.where())}
    assert found == {"c"}
