from llm_twin.infrastructure.llm.judge_endpoint import OPENAI_API_URL, judge_endpoint
from llm_twin.settings import Settings


def _settings(**values):
    return Settings(_env_file=None, **values)


def test_no_judge_without_a_server_or_key():
    assert judge_endpoint(_settings()) is None


def test_judge_settings_win_and_keys_stay_with_their_server():
    endpoint = judge_endpoint(
        _settings(
            JUDGE_API_KEY="sk-judge",
            OPENAI_BASE_URL="http://127.0.0.1:9/v1",
            OPENAI_API_KEY="sk-twin",
            OPENAI_MODEL_ID="twin-model",
        )
    )
    # A judge key alone means OpenAI's API, named explicitly: never the twin's server.
    assert endpoint.base_url == OPENAI_API_URL and endpoint.api_key == "sk-judge"
    assert endpoint.model == "twin-model"
    assert "sk-judge" not in repr(endpoint)


def test_falls_back_to_the_openai_server():
    endpoint = judge_endpoint(
        _settings(OPENAI_BASE_URL="http://127.0.0.1:9/v1", JUDGE_MODEL_ID="judge-model")
    )
    assert endpoint.base_url == "http://127.0.0.1:9/v1"
    assert endpoint.model == "judge-model" and endpoint.api_key == ""
