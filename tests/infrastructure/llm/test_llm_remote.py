"""The OpenAI-compatible backend against a fake server on 127.0.0.1, the SageMaker backend with
botocore's Stubber, and the fallback chain."""

import io
import json
import socket

import pytest

from llm_twin.domain.prompts import build_messages
from llm_twin.infrastructure.llm import GenerationParams, LLMError, LLMTimeout, LLMUnavailable
from llm_twin.infrastructure.llm.fallback import FallbackLLM
from llm_twin.infrastructure.llm.openai_compat import OpenAICompatibleBackend
from llm_twin.infrastructure.llm.sagemaker import SageMakerBackend

PARAMS = GenerationParams(max_new_tokens=16, temperature=0.2, top_p=0.8)
MESSAGES = build_messages("What is GPTQ?", "[1] GPTQ quantizes weights")


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def test_openai_streams_deltas_and_usage(fake_openai):
    backend = OpenAICompatibleBackend(fake_openai.url, "twin-model", "sk-secret", timeout=5)
    backend.check()
    stream = backend.stream(MESSAGES, PARAMS)
    assert list(stream) == fake_openai.words
    assert (stream.prompt_tokens, stream.completion_tokens) == (42, len(fake_openai.words))
    sent = fake_openai.requests[-1]
    assert sent["model"] == "twin-model" and sent["stream"] is True
    assert sent["max_tokens"] == 16 and sent["temperature"] == 0.2 and sent["top_p"] == 0.8
    assert sent["messages"] == MESSAGES
    assert fake_openai.auth_headers[-1] == "Bearer sk-secret"


def test_openai_complete(fake_openai):
    backend = OpenAICompatibleBackend(fake_openai.url, "m", timeout=5)
    completion = backend.complete(MESSAGES, PARAMS)
    assert completion.text == "I wrote about GPTQ."
    assert completion.backend == "openai" and completion.model == "m"


def test_openai_errors_map_to_unavailable_timeout_and_refusal(fake_openai):
    fake_openai.status = 500
    backend = OpenAICompatibleBackend(fake_openai.url, "m", "sk-secret", timeout=5, retries=0)
    with pytest.raises(LLMUnavailable, match="HTTP 500") as caught:
        backend.stream(MESSAGES, PARAMS)
    assert "sk-secret" not in str(caught.value)
    fake_openai.status = 400
    with pytest.raises(LLMError, match="HTTP 400"):
        backend.stream(MESSAGES, PARAMS)
    fake_openai.status, fake_openai.delay = 0, 1.5
    slow = OpenAICompatibleBackend(fake_openai.url, "m", timeout=0.5, retries=0)
    with pytest.raises(LLMTimeout):
        slow.stream(MESSAGES, PARAMS)
    down = OpenAICompatibleBackend(_closed_port_url(), "m", timeout=2, retries=0)
    with pytest.raises(LLMUnavailable, match="unreachable"):
        down.check()


def test_fallback_moves_to_the_next_backend_and_records_why(fake_openai, tiny_backend):
    down = OpenAICompatibleBackend(_closed_port_url(), "m", timeout=2, retries=0)
    chain = FallbackLLM([down, tiny_backend])
    chain.load()
    chain.check()
    completion = chain.complete(MESSAGES, PARAMS)
    assert completion.backend == "local" and completion.text
    assert completion.attempts[0]["backend"] == "openai"
    assert "unreachable" in completion.attempts[0]["error"]


def test_fallback_with_every_backend_down_is_unavailable():
    chain = FallbackLLM([OpenAICompatibleBackend(_closed_port_url(), "m", timeout=2, retries=0)])
    with pytest.raises(LLMUnavailable, match="every LLM backend failed"):
        chain.complete(MESSAGES, PARAMS)
    with pytest.raises(LLMUnavailable, match="no LLM backend"):
        chain.check()


def _sagemaker(response_body: dict | list | None, error: str | None = None, status: int = 400):
    import boto3
    from botocore.response import StreamingBody
    from botocore.stub import Stubber

    client = boto3.client(
        "sagemaker-runtime",
        region_name="eu-central-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    stubber = Stubber(client)
    expected = {
        "EndpointName": "twin-endpoint",
        "ContentType": "application/json",
        "Accept": "application/json",
        "Body": json.dumps(
            {"messages": MESSAGES, "max_tokens": 16, "temperature": 0.2, "top_p": 0.8}
        ),
    }
    if error:
        stubber.add_client_error(
            "invoke_endpoint", service_error_code=error, http_status_code=status
        )
    else:
        raw = json.dumps(response_body).encode()
        stubber.add_response(
            "invoke_endpoint",
            {"Body": StreamingBody(io.BytesIO(raw), len(raw)), "ContentType": "application/json"},
            expected,
        )
    stubber.activate()
    return SageMakerBackend("twin-endpoint", "eu-central-1", client=client), stubber


def test_sagemaker_chat_completion_payload():
    body = {
        "choices": [{"message": {"content": "GPTQ is mine."}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 30, "completion_tokens": 4},
    }
    backend, stubber = _sagemaker(body)
    completion = backend.complete(MESSAGES, PARAMS)
    stubber.assert_no_pending_responses()
    assert completion.text == "GPTQ is mine."
    assert (completion.prompt_tokens, completion.completion_tokens) == (30, 4)
    assert completion.backend == "sagemaker" and completion.model == "twin-endpoint"


def test_sagemaker_tgi_payload():
    body = [{"generated_text": "Hello", "details": {"generated_tokens": 1}}]
    backend, _ = _sagemaker(body)
    assert backend.complete(MESSAGES, PARAMS).text == "Hello"


def test_sagemaker_errors():
    backend, _ = _sagemaker(None, error="ModelError", status=424)
    with pytest.raises(LLMUnavailable, match="ModelError"):
        backend.complete(MESSAGES, PARAMS)
    backend, _ = _sagemaker(None, error="ValidationError", status=400)
    with pytest.raises(LLMError, match="ValidationError"):
        backend.complete(MESSAGES, PARAMS)
    backend, _ = _sagemaker({"unexpected": True})
    with pytest.raises(LLMError, match="unknown format"):
        backend.complete(MESSAGES, PARAMS)
