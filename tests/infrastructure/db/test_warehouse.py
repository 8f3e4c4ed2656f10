import datetime as dt
import time
import uuid

import pymongo
import pytest

from llm_twin.domain import ArticleDocument, PostDocument, UserDocument


def _article(author: UserDocument, link: str, body: str = "Body.") -> ArticleDocument:
    return ArticleDocument(
        content={"Title": "Title", "Subtitle": None, "Content": body},
        platform="substack",
        link=link,
        author_id=author.id,
        author_full_name=author.full_name,
    )


def test_get_or_create_user_is_idempotent(warehouse):
    user, created = warehouse.users.get_or_create("Ada Lovelace")
    again, created_again = warehouse.users.get_or_create(" Ada   Lovelace ")
    assert created and not created_again
    assert again.id == user.id
    assert warehouse.users.count() == 1
    assert warehouse.users.find_by_full_name("Ada Lovelace") == user
    assert warehouse.users.find_by_full_name("Ada Byron") is None


def test_user_names_are_unique(warehouse):
    warehouse.users.get_or_create("Ada Lovelace")
    with pytest.raises(pymongo.errors.DuplicateKeyError):
        warehouse.database["users"].insert_one(
            UserDocument(first_name="Ada", last_name="Lovelace").to_mongo()
        )


def test_document_round_trip(warehouse):
    user, _ = warehouse.users.get_or_create("Ada Lovelace")
    article = _article(user, "https://a.example/1")
    assert warehouse.articles.save(article).inserted == 1
    stored = warehouse.articles.get(article.id)
    assert stored.model_dump(exclude={"updated_at"}) == article.model_dump(exclude={"updated_at"})
    assert stored.updated_at is not None
    assert warehouse.articles.get_by_link("https://a.example/1").id == article.id
    assert warehouse.articles.get(uuid.uuid4()) is None


def test_upsert_is_idempotent_and_updates_in_place(warehouse):
    user, _ = warehouse.users.get_or_create("Ada Lovelace")
    batch = [_article(user, f"https://a.example/{i}") for i in range(5)]
    first = warehouse.articles.upsert_many(batch)
    stamp = warehouse.articles.get(batch[0].id).updated_at
    second = warehouse.articles.upsert_many(batch)
    assert (first.inserted, second.unchanged, second.inserted, second.updated) == (5, 5, 0, 0)
    assert warehouse.articles.get(batch[0].id).updated_at == stamp  # untouched when unchanged

    time.sleep(0.01)
    # A re-crawl produces a new object (new id) for the same link: the stored id survives.
    recrawled = _article(user, "https://a.example/0", body="Edited body.")
    third = warehouse.articles.upsert_many([recrawled, *batch[1:]])
    assert (third.updated, third.unchanged, third.inserted) == (1, 4, 0)
    stored = warehouse.articles.get_by_link("https://a.example/0")
    assert stored.id == batch[0].id
    assert stored.content["Content"] == "Edited body."
    assert stored.content_hash == recrawled.content_hash
    assert stored.updated_at > stamp
    assert warehouse.articles.count() == 5


def test_links_are_unique_per_collection(warehouse):
    user, _ = warehouse.users.get_or_create("Ada Lovelace")
    warehouse.articles.save(_article(user, "https://a.example/x"))
    with pytest.raises(pymongo.errors.DuplicateKeyError):
        warehouse.database["articles"].insert_one(_article(user, "https://a.example/x").to_mongo())
    # The same link in another collection is a different document.
    post = PostDocument(
        content={"text": "hi"},
        platform="linkedin",
        link="https://a.example/x",
        author_id=user.id,
        author_full_name=user.full_name,
    )
    assert warehouse.posts.save(post).inserted == 1


def test_duplicate_links_in_one_batch_are_rejected(warehouse):
    user, _ = warehouse.users.get_or_create("Ada Lovelace")
    with pytest.raises(ValueError, match="duplicate links"):
        warehouse.articles.upsert_many(
            [_article(user, "https://d/1"), _article(user, "https://d/1")]
        )
    assert warehouse.articles.count() == 0


def test_find_filters_and_delete(warehouse):
    ada, _ = warehouse.users.get_or_create("Ada Lovelace")
    alan, _ = warehouse.users.get_or_create("Alan Turing")
    warehouse.articles.upsert_many([_article(ada, "https://a/1"), _article(ada, "https://a/2")])
    time.sleep(0.01)
    before = dt.datetime.now(dt.UTC)
    time.sleep(0.01)
    medium = _article(alan, "https://m/1").model_copy(update={"platform": "medium"})
    warehouse.articles.save(medium)

    assert {d.link for d in warehouse.articles.find(author_id=ada.id)} == {
        "https://a/1",
        "https://a/2",
    }
    assert [d.link for d in warehouse.articles.find(platform="medium")] == ["https://m/1"]
    assert [d.link for d in warehouse.articles.find(updated_since=before)] == ["https://m/1"]
    assert warehouse.articles.count(author_full_name="Alan Turing") == 1
    assert warehouse.articles.links() == {"https://a/1", "https://a/2", "https://m/1"}
    assert set(warehouse.articles.hashes()) == {str(d.id) for d in warehouse.articles.find()}

    assert warehouse.articles.delete(medium.id)
    assert not warehouse.articles.delete(medium.id)
    assert warehouse.counts() == {"users": 2, "articles": 2, "posts": 0, "repositories": 0}
