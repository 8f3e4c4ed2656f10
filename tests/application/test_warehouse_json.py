import json

import pytest

from llm_twin.application.warehouse_json import export_directory, import_directory
from llm_twin.domain.exceptions import InvalidInput


def _load(path):
    return json.loads(path.read_text())


def test_sample_corpus_round_trips_exactly(warehouse, sample_warehouse_dir, tmp_path):
    results = import_directory(warehouse, sample_warehouse_dir)
    assert results["users"].inserted == 2
    assert results["articles"].inserted == 76
    assert warehouse.counts() == {"users": 2, "articles": 76, "posts": 0, "repositories": 0}

    written = export_directory(warehouse, tmp_path / "export")
    assert written["ArticleDocument.json"] == 76
    for name in ("UserDocument.json", "ArticleDocument.json", "PostDocument.json"):
        original = sorted(_load(sample_warehouse_dir / name), key=lambda r: r["_id"])
        assert _load(tmp_path / "export" / name) == original, name


def test_import_is_idempotent(warehouse, sample_warehouse_dir):
    import_directory(warehouse, sample_warehouse_dir)
    again = import_directory(warehouse, sample_warehouse_dir)
    assert again["articles"].unchanged == 76 and again["articles"].inserted == 0
    assert again["users"].unchanged == 2
    assert warehouse.counts()["articles"] == 76


def _write(directory, name, text):
    directory.mkdir(exist_ok=True)
    (directory / name).write_text(text)
    return directory


def test_invalid_json_names_file_and_position(warehouse, tmp_path):
    directory = _write(tmp_path / "in", "UserDocument.json", '[{"first_name": "A"},')
    with pytest.raises(InvalidInput, match=r"UserDocument.json: invalid JSON at line 1"):
        import_directory(warehouse, directory)


def test_one_bad_record_names_it_and_nothing_is_written(warehouse, sample_warehouse_dir, tmp_path):
    articles = _load(sample_warehouse_dir / "ArticleDocument.json")[:5]
    del articles[3]["link"]
    directory = _write(tmp_path / "in", "ArticleDocument.json", json.dumps(articles))
    (directory / "UserDocument.json").write_text(
        (sample_warehouse_dir / "UserDocument.json").read_text()
    )
    with pytest.raises(InvalidInput) as error:
        import_directory(warehouse, directory)
    message = str(error.value)
    assert "ArticleDocument.json: record 3" in message
    assert articles[3]["_id"] in message
    assert "link: Field required" in message
    # Validation happens before any write: not even the valid users file was imported.
    assert warehouse.counts() == {"users": 0, "articles": 0, "posts": 0, "repositories": 0}


def test_wrong_top_level_type_and_missing_directory(warehouse, tmp_path):
    directory = _write(tmp_path / "in", "UserDocument.json", '{"first_name": "A"}')
    with pytest.raises(InvalidInput, match="expected a JSON list of documents, got dict"):
        import_directory(warehouse, directory)
    with pytest.raises(InvalidInput, match="not a directory"):
        import_directory(warehouse, tmp_path / "nowhere")
    with pytest.raises(InvalidInput, match=r"none of UserDocument\.json"):
        import_directory(warehouse, _write(tmp_path / "empty", "other.json", "[]"))


def test_duplicate_links_in_a_file_are_reported(warehouse, sample_warehouse_dir, tmp_path):
    articles = _load(sample_warehouse_dir / "ArticleDocument.json")[:2]
    articles[1]["link"] = articles[0]["link"]
    directory = _write(tmp_path / "in", "ArticleDocument.json", json.dumps(articles))
    with pytest.raises(InvalidInput, match="records 0 and 1 share the link"):
        import_directory(warehouse, directory)
    assert warehouse.articles.count() == 0


def test_duplicate_link_is_found_before_any_file_is_written(
    warehouse, sample_warehouse_dir, tmp_path
):
    """Issue 18, finding 7: users are not written when the articles file has a duplicate."""
    articles = _load(sample_warehouse_dir / "ArticleDocument.json")[:2]
    articles[1]["link"] = articles[0]["link"]
    directory = _write(tmp_path / "in", "ArticleDocument.json", json.dumps(articles))
    users = (sample_warehouse_dir / "UserDocument.json").read_text()
    (directory / "UserDocument.json").write_text(users)
    with pytest.raises(InvalidInput, match="share the link"):
        import_directory(warehouse, directory)
    assert warehouse.users.count() == 0


def test_non_utf8_file_is_one_clear_error(warehouse, tmp_path):
    directory = tmp_path / "in"
    directory.mkdir()
    (directory / "UserDocument.json").write_bytes('[{"first_name": "Andr\xe9"}]'.encode("latin-1"))
    expected = r"UserDocument.json: not UTF-8 text \(invalid byte 0xe9"
    with pytest.raises(InvalidInput, match=expected):
        import_directory(warehouse, directory)
