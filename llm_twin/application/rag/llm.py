"""A small client for an OpenAI-compatible chat server (vLLM, Ollama, OpenAI), used by the
optional LLM-based self-query and query expansion."""

from typing import Any

from llm_twin.domain.exceptions import ImproperlyConfigured, LLMTwinError
from llm_twin.settings import Settings


class LLMError(LLMTwinError):
    """The LLM server failed or answered something unusable."""


class ChatLLM:
    """Chat completions from an OpenAI-compatible server.

    Args:
        base_url: The server's base URL (``http://127.0.0.1:8000/v1``).
        model: Model name to request.
        api_key: Key for the server; local servers accept any non-empty string.
        timeout: Seconds to wait for one answer.
    """

    def __init__(self, base_url: str, model: str, api_key: str = "", timeout: float = 20.0) -> None:
        self.base_url = base_url
        self.model = model
        self._api_key = api_key or "not-needed"
        self.timeout = timeout
        self._client: Any = None

    @classmethod
    def from_settings(cls, settings: Settings) -> "ChatLLM":
        """The LLM named by ``OPENAI_BASE_URL`` / ``OPENAI_MODEL_ID`` / ``OPENAI_API_KEY``."""
        if not settings.OPENAI_BASE_URL and settings.OPENAI_API_KEY is None:
            raise ImproperlyConfigured(
                "an LLM-based retrieval stage is enabled but no LLM is configured: set "
                "OPENAI_BASE_URL (and OPENAI_MODEL_ID / OPENAI_API_KEY)"
            )
        key = settings.OPENAI_API_KEY.get_secret_value() if settings.OPENAI_API_KEY else ""
        base_url = settings.OPENAI_BASE_URL or "https://api.openai.com/v1"
        return cls(base_url, settings.OPENAI_MODEL_ID, key, settings.RAG_LLM_TIMEOUT)

    def _openai(self) -> Any:
        if self._client is None:
            import openai

            self._client = openai.OpenAI(
                base_url=self.base_url, api_key=self._api_key, timeout=self.timeout, max_retries=1
            )
        return self._client

    def complete(self, system: str, user: str, *, max_tokens: int = 256) -> str:
        """The assistant's answer to one system + user message (temperature 0).

        Raises:
            LLMError: the server failed or returned no text (the key is never shown).
        """
        import openai

        try:
            response = self._openai().chat.completions.create(
                model=self.model,
                messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
                temperature=0.0,
                max_tokens=max_tokens,
            )
        except openai.OpenAIError as error:
            raise LLMError(f"LLM at {self.base_url} failed: {type(error).__name__}") from None
        if not response.choices or not response.choices[0].message.content:
            raise LLMError(f"LLM at {self.base_url} returned no text")
        return str(response.choices[0].message.content)
