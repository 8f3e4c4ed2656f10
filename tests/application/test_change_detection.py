import json

import pytest

from llm_twin.application.change_detection import (
    Changes,
    Threshold,
    compare,
    load_state,
    save_state,
    state_path,
    take_snapshot,
)
from llm_twin.domain.exceptions import InvalidInput

BEFORE = {"articles": {"a": "h1", "b": "h2", "c": "h3"}, "posts": {"p": "h4"}}


def test_compare_counts_new_changed_and_deleted_documents():
    after = {"articles": {"a": "h1", "b": "CHANGED", "d": "h5"}, "posts": {"p": "h4"}}
    changes = compare(BEFORE, after)
    assert (changes.new, changes.changed, changes.deleted, changes.total) == (1, 1, 1, 4)
    assert changes.count == 3 and changes.fraction == 0.75
    assert compare(BEFORE, BEFORE).count == 0
    # No earlier training: everything is new.
    assert compare(None, BEFORE) == Changes(new=4, changed=0, deleted=0, total=4)
    # An emptied warehouse is a full change, not a division by zero.
    assert compare(BEFORE, {"articles": {}}).fraction == 1.0


def test_threshold_by_count_or_by_fraction():
    threshold = Threshold(min_documents=5, min_fraction=0.1)
    assert threshold.decide(Changes(new=5, changed=0, deleted=0, total=1000))[0]
    train, reason = threshold.decide(Changes(new=0, changed=2, deleted=0, total=10))
    assert train and "20.0% of the warehouse" in reason
    train, reason = threshold.decide(Changes(new=1, changed=0, deleted=0, total=100))
    assert not train and "below the threshold" in reason
    assert not threshold.decide(Changes(new=0, changed=0, deleted=0, total=0))[0]
    with pytest.raises(InvalidInput, match="min_documents"):
        Threshold(min_documents=0)
    with pytest.raises(InvalidInput, match="min_fraction"):
        Threshold(min_fraction=1.5)


def test_state_round_trip_and_damaged_state(tmp_path):
    assert load_state(tmp_path) is None
    path = save_state(tmp_path, BEFORE, model_version=3)
    state = load_state(tmp_path)
    assert state["snapshot"] == BEFORE and state["model_version"] == 3 and state["finished_at"]
    path.write_text("{not json")
    with pytest.raises(InvalidInput, match="not valid JSON"):
        load_state(tmp_path)
    assert path.read_text() == "{not json"  # left for the user to inspect
    path.write_text(json.dumps({"finished_at": "x"}))
    with pytest.raises(InvalidInput, match="no 'snapshot'"):
        load_state(tmp_path)
    assert state_path(tmp_path) == path


def test_snapshot_of_a_real_warehouse(warehouse, sample_warehouse_dir):
    from llm_twin.application.warehouse_json import import_directory

    import_directory(warehouse, sample_warehouse_dir)
    snapshot = take_snapshot(warehouse)
    assert len(snapshot["articles"]) == 76 and snapshot["posts"] == {}
    assert all(len(value) > 8 for value in snapshot["articles"].values())
