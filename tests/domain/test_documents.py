import uuid

import pytest
from pydantic import ValidationError

from llm_twin.domain import ArticleDocument, DataCategory, UserDocument, chunk_id, document_type_for
from llm_twin.domain.documents import RepositoryDocument, split_full_name


def _article(**overrides):
    fields = {
        "content": {"Title": "T", "Subtitle": None, "Content": "Body text."},
        "platform": "substack",
        "link": "https://example.substack.com/p/t",
        "author_id": uuid.uuid4(),
        "author_full_name": "Ada Lovelace",
    }
    return ArticleDocument(**(fields | overrides))


def test_user_full_name_and_split():
    user = UserDocument.from_full_name("  Maxime   Labonne ")
    assert (user.first_name, user.last_name, user.full_name) == (
        "Maxime",
        "Labonne",
        "Maxime Labonne",
    )
    assert split_full_name("Jean Claude Van Damme") == ("Jean", "Claude Van Damme")
    assert UserDocument.from_full_name("Plato").full_name == "Plato"
    with pytest.raises(ValueError, match="must not be empty"):
        UserDocument.from_full_name("   ")


def test_full_name_is_not_serialised():
    assert "full_name" not in UserDocument.from_full_name("A B").to_export()


@pytest.mark.parametrize(
    ("field", "value"),
    [("link", ""), ("platform", ""), ("author_id", "not-a-uuid"), ("content", "a string")],
)
def test_article_validation_names_the_field(field, value):
    with pytest.raises(ValidationError) as error:
        _article(**{field: value})
    assert field in str(error.value)


def test_unknown_fields_are_rejected():
    with pytest.raises(ValidationError, match="surprise"):
        ArticleDocument.model_validate(_article().to_export() | {"surprise": 1})


def test_content_hash_follows_content_only():
    first = _article()
    same = _article(link="https://other.example/x", author_id=uuid.uuid4())
    changed = _article(content={"Title": "T", "Subtitle": None, "Content": "Body text!"})
    assert first.content_hash == same.content_hash
    assert first.content_hash != changed.content_hash
    assert len(first.content_hash) == 64


def test_export_round_trip_drops_derived_fields_and_keeps_id():
    article = _article()
    exported = article.to_export()
    assert exported["_id"] == str(article.id)
    assert "content_hash" not in exported and "updated_at" not in exported
    assert ArticleDocument.from_mongo(exported) == article


def test_stored_content_hash_is_recomputed_not_trusted():
    stored = _article().to_mongo() | {"content_hash": "forged"}
    assert ArticleDocument.from_mongo(stored).content_hash != "forged"


def test_repository_document_requires_name():
    with pytest.raises(ValidationError, match="name"):
        RepositoryDocument(
            content={"a.py": "x = 1\n"},
            platform="github",
            link="https://github.com/a/b",
            author_id=uuid.uuid4(),
            author_full_name="A B",
        )


def test_chunk_ids_are_deterministic_uuid5():
    document_id = uuid.uuid4()
    first = chunk_id(document_id, 0, "hello")
    assert first == chunk_id(document_id, 0, "hello")
    assert first.version == 5
    assert len({first, chunk_id(document_id, 1, "hello"), chunk_id(document_id, 0, "hello!")}) == 3


def test_data_category_mapping():
    assert DataCategory.parse("Article") is DataCategory.ARTICLES
    assert DataCategory.parse("code") is DataCategory.REPOSITORIES
    assert DataCategory.from_collection("posts") is DataCategory.POSTS
    assert document_type_for("articles") is ArticleDocument
    with pytest.raises(ValueError, match="unknown data category 'videos'"):
        DataCategory.parse("videos")
    with pytest.raises(ValueError, match="unknown collection"):
        DataCategory.from_collection("videos")
