import json
import os
import signal
import time

import pymongo
import pytest

from llm_twin.infrastructure.db.embedded_mongo import EmbeddedMongo


@pytest.fixture
def server_root(tmp_path):
    root = tmp_path / "warehouse"
    yield root
    EmbeddedMongo(root).stop()


def test_start_is_idempotent_and_stop_stops(server_root):
    manager = EmbeddedMongo(server_root)
    first = manager.ensure_running()
    assert manager.ensure_running() == first  # reused, not restarted
    with pymongo.MongoClient(first.uri, serverSelectionTimeoutMS=2000) as client:
        assert client.admin.command("ping")["ok"] == 1
    assert manager.stop()
    assert manager.status() is None
    assert not manager.stop()


def test_stale_state_from_a_dead_server_is_replaced(server_root):
    manager = EmbeddedMongo(server_root)
    server_root.mkdir(parents=True)
    (server_root / "server.json").write_text(
        json.dumps({"pid": 2**22 + 12345, "port": 1, "data_dir": "x"})
    )
    assert manager.status() is None
    running = manager.ensure_running()
    assert running.pid != 2**22 + 12345


def test_data_survives_sigkill(server_root):
    manager = EmbeddedMongo(server_root)
    server = manager.ensure_running()
    with pymongo.MongoClient(server.uri, serverSelectionTimeoutMS=2000) as client:
        client["t"]["c"].insert_many([{"_id": i} for i in range(100)])
    os.kill(server.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while manager.status() is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    restarted = manager.ensure_running()
    assert restarted.pid != server.pid
    with pymongo.MongoClient(restarted.uri, serverSelectionTimeoutMS=2000) as client:
        assert client["t"]["c"].count_documents({}) == 100


def test_unreachable_mongodb_gives_a_clear_error_without_password():
    from llm_twin.domain.exceptions import StoreUnavailable
    from llm_twin.infrastructure.db.mongo import connect

    with pytest.raises(StoreUnavailable) as error:
        connect("mongodb://admin:hunter2@127.0.0.1:9/?directConnection=true", timeout_ms=300)
    assert "hunter2" not in str(error.value)
    assert "admin:***@127.0.0.1:9" in str(error.value)


def test_a_copied_data_dir_never_uses_or_stops_the_original_server(tmp_path):
    """Issue 18, finding 4: the copy's state file names the original's server; the copy starts
    its own, writes go to its own data, and stopping the copy leaves the original running."""
    import shutil

    original_root = tmp_path / "original" / "warehouse"
    copy_root = tmp_path / "copy" / "warehouse"
    original = EmbeddedMongo(original_root)
    copy = EmbeddedMongo(copy_root)
    try:
        first = original.ensure_running()
        shutil.copytree(original_root, copy_root)
        assert copy.status() is None
        assert not copy.stop()
        assert original.status() == first
        mine = copy.ensure_running()
        assert mine.pid != first.pid and mine.port != first.port
        with pymongo.MongoClient(mine.uri, serverSelectionTimeoutMS=2000) as client:
            client.twin.probe.insert_one({"written": "to the copy"})
        with pymongo.MongoClient(first.uri, serverSelectionTimeoutMS=2000) as client:
            assert client.twin.probe.count_documents({}) == 0
        assert copy.stop()
        assert original.status() == first
    finally:
        copy.stop()
        original.stop()
