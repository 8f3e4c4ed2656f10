import os

import pytest

from llm_twin.settings import Settings, apply_offline_defaults, get_settings, mask_uri


def test_secrets_are_masked_in_repr_and_str(monkeypatch):
    monkeypatch.setenv("DATABASE_HOST", "mongodb://admin:hunter2@db.example:27017")
    monkeypatch.setenv("QDRANT_API_KEY", "qdrant-secret-key")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret")
    settings = Settings(_env_file=None)
    text = repr(settings) + str(settings) + str(settings.model_dump())
    for secret in ("hunter2", "qdrant-secret-key", "sk-very-secret"):
        assert secret not in text
    assert settings.masked_database_host() == "mongodb://admin:***@db.example:27017"


@pytest.mark.parametrize(
    ("uri", "masked"),
    [
        ("mongodb://u:p%40ss@h:1/db?x=1", "mongodb://u:***@h:1/db?x=1"),
        ("mongodb+srv://user:pw@cluster.example/", "mongodb+srv://user:***@cluster.example/"),
        ("mongodb://localhost:27017", "mongodb://localhost:27017"),
        ("mongodb://token@host", "mongodb://token:***@host"),
    ],
)
def test_mask_uri(uri, masked):
    assert mask_uri(uri) == masked


def test_embedded_defaults_when_nothing_is_configured(monkeypatch, tmp_path):
    for name in ("DATABASE_HOST", "QDRANT_URL", "QDRANT_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    settings = Settings(_env_file=None)
    assert settings.uses_embedded_mongo and settings.uses_embedded_qdrant
    assert settings.qdrant_path == tmp_path / "qdrant"
    assert settings.masked_database_host() == "<embedded>"


def test_invalid_setting_is_named(monkeypatch):
    monkeypatch.setenv("EMBEDDED_MONGO_PORT", "99999")
    with pytest.raises(ValueError, match="EMBEDDED_MONGO_PORT"):
        Settings(_env_file=None)


def test_get_settings_is_cached_and_lazy(monkeypatch):
    get_settings.cache_clear()
    monkeypatch.setenv("DATABASE_NAME", "first")
    assert get_settings().storage.database_name == "first"
    monkeypatch.setenv("DATABASE_NAME", "second")
    assert get_settings().storage.database_name == "first"
    get_settings.cache_clear()


def test_offline_defaults_never_override_the_user(monkeypatch, tmp_path):
    names = ["HF_HUB_OFFLINE", "ZENML_ANALYTICS_OPT_IN", "OPIK_TRACK_DISABLE", "COMET_START_ONLINE"]
    for name in names:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ZENML_ANALYTICS_OPT_IN", "true")  # the user's own choice
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    apply_offline_defaults(Settings(_env_file=None))
    assert os.environ["ZENML_ANALYTICS_OPT_IN"] == "true"
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert os.environ["OPIK_TRACK_DISABLE"] == "true"
    assert os.environ["COMET_START_ONLINE"] == "false"


def test_configured_opik_and_comet_are_left_enabled(monkeypatch, tmp_path):
    for name in ("OPIK_TRACK_DISABLE", "COMET_START_ONLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPIK_URL", "http://127.0.0.1:5173/api")
    monkeypatch.setenv("COMET_API_KEY", "k")
    apply_offline_defaults(Settings(_env_file=None, DATA_DIR=tmp_path))
    assert "OPIK_TRACK_DISABLE" not in os.environ
    assert "COMET_START_ONLINE" not in os.environ


def test_a_renamed_setting_stops_with_its_replacement(monkeypatch, tmp_path):
    monkeypatch.setenv("LLM_HISTORY_CHARS", "900")
    renamed = r"LLM_HISTORY_CHARS \(in the environment\) was renamed.*LLM_HISTORY_TOKENS"
    with pytest.raises(ValueError, match=renamed):
        Settings(_env_file=None)
    monkeypatch.delenv("LLM_HISTORY_CHARS")
    dotenv = tmp_path / ".env"
    dotenv.write_text("llm_history_chars=900\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"LLM_HISTORY_CHARS \(in the \.env\) was renamed"):
        Settings(_env_file=dotenv)
    dotenv.write_text("LLM_HISTORY_TOKENS=300\n", encoding="utf-8")
    assert Settings(_env_file=dotenv).llm.history_tokens == 300
