"""Any OpenAI-compatible chat server (vLLM ``vllm serve``, OpenAI, Ollama, TGI) through the
``openai`` client; streaming is passed through delta by delta."""

from collections.abc import Iterator
from typing import TYPE_CHECKING

from llm_twin.infrastructure.llm import base
from llm_twin.infrastructure.llm.base import GenerationParams, LLMBackend, Messages, TokenStream
from llm_twin.infrastructure.llm.errors import LLMError, LLMTimeout, LLMUnavailable

if TYPE_CHECKING:
    import openai


class OpenAICompatibleBackend(LLMBackend):
    """Chat completions from an OpenAI-compatible server.

    Args:
        base_url: The server's base URL, ``/v1`` included (``http://127.0.0.1:8001/v1``).
        model: Model name to request.
        api_key: Key for the server (local servers accept any non-empty string).
        timeout: Seconds for one HTTP request (and between streamed chunks).
        retries: Retries of a failed request (connection errors, 429, 5xx) by the client.
    """

    name = "openai"
    supports_json_mode = True

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str = "",
        timeout: float = 60.0,
        retries: int = 1,
    ) -> None:
        self.base_url = base_url
        self.model_id = model
        self._api_key = api_key or "not-needed"
        self.timeout = timeout
        self.retries = retries
        self._client: openai.OpenAI | None = None

    def load(self) -> None:
        self._openai()

    def _openai(self) -> "openai.OpenAI":
        if self._client is None:
            import openai

            self._client = openai.OpenAI(
                base_url=self.base_url,
                api_key=self._api_key,
                timeout=self.timeout,
                max_retries=self.retries,
            )
        return self._client

    def check(self) -> None:
        client = self._openai()
        try:
            client.with_options(max_retries=0, timeout=min(self.timeout, 5.0)).models.list()
        except Exception as error:
            raise self._translate(error) from None

    def _request(self, messages: Messages, params: GenerationParams) -> dict[str, object]:
        """The chat-completions request body for ``messages`` sampled by ``params``."""
        body: dict[str, object] = {
            "model": self.model_id,
            "messages": [dict(message) for message in messages],
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
        }
        if params.json_mode:
            body["response_format"] = {"type": "json_object"}
        return body

    def complete(self, messages: Messages, params: GenerationParams) -> base.Completion:
        """The whole answer in one (non-streamed) request."""
        client = self._openai()
        try:
            response = client.chat.completions.create(**self._request(messages, params))  # type: ignore[call-overload]
        except Exception as error:
            raise self._translate(error) from None
        choice = response.choices[0] if response.choices else None
        usage = response.usage
        return base.Completion(
            text=(choice.message.content if choice else None) or "",
            prompt_tokens=(usage.prompt_tokens or 0) if usage else 0,
            completion_tokens=(usage.completion_tokens or 0) if usage else 0,
            model=self.model_id,
            backend=self.name,
            finish_reason=(choice.finish_reason if choice else None) or "stop",
        )

    def stream(self, messages: Messages, params: GenerationParams) -> TokenStream:
        client = self._openai()
        try:
            response = client.chat.completions.create(  # type: ignore[call-overload]
                **self._request(messages, params),
                stream=True,
                stream_options={"include_usage": True},
            )
        except Exception as error:
            raise self._translate(error) from None
        stream = TokenStream(
            iter(()), model=self.model_id, backend=self.name, on_close=response.close
        )

        def deltas() -> Iterator[str]:
            pieces = 0
            try:
                for chunk in response:
                    if chunk.usage is not None:
                        stream.prompt_tokens = chunk.usage.prompt_tokens or 0
                        stream.completion_tokens = chunk.usage.completion_tokens or 0
                    for choice in chunk.choices or []:
                        if choice.finish_reason:
                            stream.finish_reason = choice.finish_reason
                        text = choice.delta.content if choice.delta else None
                        if text:
                            pieces += 1
                            yield text
            except Exception as error:
                raise self._translate(error) from None
            if not stream.completion_tokens:
                # The server sent no usage: count the streamed pieces (one token each on vLLM).
                stream.completion_tokens = pieces

        stream._deltas = deltas()
        return stream

    def _translate(self, error: Exception) -> LLMError:
        """The project error for an ``openai`` exception (status and type, never the key)."""
        import openai

        where = f"OpenAI-compatible server at {self.base_url}"
        if isinstance(error, openai.APITimeoutError):
            return LLMTimeout(f"{where} timed out after {self.timeout:.0f} s")
        if isinstance(error, openai.APIConnectionError):
            return LLMUnavailable(f"{where} is unreachable")
        if isinstance(error, openai.APIStatusError):
            if error.status_code >= 500 or error.status_code == 429:
                return LLMUnavailable(f"{where} answered HTTP {error.status_code}")
            return LLMError(f"{where} refused the request: HTTP {error.status_code}")
        if isinstance(error, LLMError):
            return error
        return LLMError(f"{where} failed: {type(error).__name__}")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
