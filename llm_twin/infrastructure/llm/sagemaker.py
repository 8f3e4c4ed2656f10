"""A SageMaker real-time endpoint running a TGI or vLLM (LMI) container, through boto3's
``sagemaker-runtime``.

The payload is the containers' OpenAI-style messages format (the endpoint applies the model's
chat template); the answer may come back as a chat completion or as TGI's
``[{"generated_text": ...}]``. The answer arrives whole (``invoke_endpoint``) and is handed on
as a single delta. Timeouts and retries are botocore's (standard retry mode).
"""

import json
from typing import Any

from llm_twin.infrastructure.llm.base import GenerationParams, LLMBackend, Messages, TokenStream
from llm_twin.infrastructure.llm.errors import LLMError, LLMTimeout, LLMUnavailable


class SageMakerBackend(LLMBackend):
    """Answers from a SageMaker endpoint.

    Args:
        endpoint_name: The endpoint's name.
        region: AWS region.
        timeout: Read timeout of one call, seconds.
        retries: Retries of a failed call (throttling, 5xx, connection errors).
        client: A ready ``sagemaker-runtime`` client (tests); built from the default AWS
            credential chain (or the keys given) otherwise.
        access_key: AWS access key id (optional).
        secret_key: AWS secret access key (optional).
    """

    name = "sagemaker"

    def __init__(
        self,
        endpoint_name: str,
        region: str,
        timeout: float = 60.0,
        retries: int = 1,
        client: Any = None,  # a boto3 sagemaker-runtime client (boto3 clients are untyped)
        access_key: str | None = None,
        secret_key: str | None = None,
    ) -> None:
        self.endpoint_name = endpoint_name
        self.model_id = endpoint_name
        self.region = region
        self.timeout = timeout
        self.retries = retries
        self._client = client
        self._keys = (access_key, secret_key)

    def load(self) -> None:
        if self._client is not None:
            return
        import boto3
        from botocore.config import Config

        config = Config(
            read_timeout=self.timeout,
            connect_timeout=min(self.timeout, 10.0),
            retries={"max_attempts": self.retries + 1, "mode": "standard"},
        )
        access_key, secret_key = self._keys
        self._client = boto3.client(
            "sagemaker-runtime",
            region_name=self.region,
            config=config,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
        )

    def check(self) -> None:
        # sagemaker-runtime has no cheap status call; a client that could be built is ready.
        if self._client is None:
            raise LLMUnavailable(f"SageMaker endpoint {self.endpoint_name}: client not loaded")

    def stream(self, messages: Messages, params: GenerationParams) -> TokenStream:
        self.load()
        body = {
            "messages": [dict(message) for message in messages],
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
        }
        try:
            response = self._client.invoke_endpoint(
                EndpointName=self.endpoint_name,
                ContentType="application/json",
                Accept="application/json",
                Body=json.dumps(body),
            )
            raw = response["Body"].read()
        except Exception as error:
            raise self._translate(error) from None
        text, prompt_tokens, completion_tokens, finish = _parse(raw, self.endpoint_name)
        stream = TokenStream(
            iter([text] if text else []),
            model=self.model_id,
            backend=self.name,
            prompt_tokens=prompt_tokens,
        )
        stream.completion_tokens = completion_tokens
        stream.finish_reason = finish
        return stream

    def _translate(self, error: Exception) -> LLMError:
        from botocore.exceptions import (
            ClientError,
            ConnectTimeoutError,
            EndpointConnectionError,
            NoCredentialsError,
            ReadTimeoutError,
        )

        where = f"SageMaker endpoint {self.endpoint_name}"
        if isinstance(error, ReadTimeoutError | ConnectTimeoutError):
            return LLMTimeout(f"{where} timed out after {self.timeout:.0f} s")
        if isinstance(error, EndpointConnectionError | NoCredentialsError):
            return LLMUnavailable(f"{where} is unreachable: {type(error).__name__}")
        if isinstance(error, ClientError):
            code = error.response.get("Error", {}).get("Code", "error")
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if status >= 500 or status == 429 or code in ("ThrottlingException", "ModelError"):
                return LLMUnavailable(f"{where} failed: {code}")
            return LLMError(f"{where} refused the request: {code}")
        return LLMError(f"{where} failed: {type(error).__name__}")


def _parse(raw: bytes, endpoint: str) -> tuple[str, int, int, str]:
    """(text, prompt tokens, completion tokens, finish reason) from an endpoint's answer."""
    try:
        data = json.loads(raw)
    except ValueError:
        raise LLMError(f"SageMaker endpoint {endpoint} returned invalid JSON") from None
    if isinstance(data, dict) and data.get("choices"):
        choice = data["choices"][0]
        text = (choice.get("message") or {}).get("content") or ""
        usage = data.get("usage") or {}
        return (
            text,
            int(usage.get("prompt_tokens", 0)),
            int(usage.get("completion_tokens", 0)),
            choice.get("finish_reason") or "stop",
        )
    first = data[0] if isinstance(data, list) and data else None
    if isinstance(first, dict) and "generated_text" in first:
        details = data[0].get("details") or {}
        return (
            str(data[0]["generated_text"]),
            0,
            int(details.get("generated_tokens", 0)),
            "length" if details.get("finish_reason") == "length" else "stop",
        )
    raise LLMError(f"SageMaker endpoint {endpoint} returned an answer in an unknown format")
