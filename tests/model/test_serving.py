"""Following promotions: the watcher loads the newly promoted version beside the served one and
swaps it in; a version that fails to load leaves the old one serving (and says why); a record
rewritten without a promotion changes nothing; the thread picks a promotion up within seconds."""

import time

import pytest
from registry_versions import register_version

from llm_twin.model.registry import ModelRegistry, registry_root
from llm_twin.model.serving import ProductionWatcher, build_served_llm, reload_enabled
from llm_twin.settings import Settings


@pytest.fixture
def registry_settings(tmp_path, tiny_base_model):
    """Settings of a DATA_DIR whose registry holds versions 1 and 2 (the tiny model) and 3 (a
    folder without weights); version 1 is in production."""
    settings = Settings(
        _env_file=None,
        DATA_DIR=tmp_path / "data",
        LLM_BACKENDS="local",
        LLM_ENGINE="transformers",
        LLM_TIMEOUT=30,
    )
    registry = ModelRegistry(registry_root(settings), zenml=False)
    for number, model in ((1, tiny_base_model), (2, tiny_base_model), (3, None)):
        register_version(registry, tmp_path, f"f{number}", model)
    registry.promote(1, "production")
    return settings


def test_the_watcher_swaps_in_promotions_and_keeps_serving_when_a_load_fails(registry_settings):
    from loguru import logger

    registry = ModelRegistry(registry_root(registry_settings), zenml=False)
    holder = build_served_llm(registry_settings)
    holder.load()
    assert holder.model_id == "llm-twin-v1"
    outcomes = []
    watcher = ProductionWatcher(
        registry_settings, holder, interval=60, listener=lambda *outcome: outcomes.append(outcome)
    )
    assert not watcher.check()  # nothing changed
    registry.record_evaluation(1, {"gate": "passed"}, {"eval_score": 1.0})
    assert not watcher.check() and outcomes == []  # a record rewritten, the same production

    registry.promote(2, "production")
    assert watcher.check()
    assert holder.model_id == "llm-twin-v2" and holder.served.path == registry.get(2).model_dir
    assert outcomes == [("loaded", "llm-twin-v2")]

    errors: list[str] = []
    sink = logger.add(lambda message: errors.append(str(message)), level="ERROR")
    try:
        registry.promote(3, "production")
        assert not watcher.check()
    finally:
        logger.remove(sink)
    assert holder.model_id == "llm-twin-v2"  # still serving
    assert outcomes[-1] == ("failed", "llm-twin-v3")
    assert any(
        "could not load llm-twin-v3" in line and "still serving llm-twin-v2" in line
        for line in errors
    )
    assert not watcher.check()  # not retried until the registry changes again
    holder.close()


def test_the_watcher_thread_follows_a_promotion_within_seconds(registry_settings):
    registry = ModelRegistry(registry_root(registry_settings), zenml=False)
    holder = build_served_llm(registry_settings)
    holder.load()
    watcher = ProductionWatcher(registry_settings, holder, interval=0.2)
    watcher.start()
    try:
        registry.promote(2, "production")
        deadline = time.monotonic() + 60
        while holder.model_id != "llm-twin-v2" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert holder.model_id == "llm-twin-v2"
    finally:
        watcher.stop()
        holder.close()


def test_reloading_follows_only_a_registry_served_local_model(tmp_path):
    def settings(**values):
        return Settings(_env_file=None, DATA_DIR=tmp_path, **values)

    assert reload_enabled(settings(LLM_BACKENDS="local"))
    assert reload_enabled(settings(LLM_BACKENDS="openai,local"))
    assert not reload_enabled(settings(LLM_BACKENDS="openai"))
    assert not reload_enabled(settings(LLM_BACKENDS="local", LLM_MODEL_PATH=tmp_path / "mine"))
    assert not reload_enabled(settings(LLM_BACKENDS="local", API_MODEL_RELOAD_SECONDS=0))
