"""Where the judge LLM of the evaluations is: one resolution of the ``JUDGE_*`` settings (falling
back to ``OPENAI_*``) shared by the twin evaluation and the RAG evaluation."""

from dataclasses import dataclass, field

from llm_twin.settings import Settings

#: OpenAI's own API, used when a key is configured without a base URL.
OPENAI_API_URL = "https://api.openai.com/v1"


@dataclass(frozen=True)
class JudgeEndpoint:
    """Where the judge is: base URL, model and key (never logged).

    Attributes:
        base_url: OpenAI-compatible API base URL.
        model: Model name to request.
        api_key: The key (empty for servers that need none).
    """

    base_url: str
    model: str
    api_key: str = field(default="", repr=False)


def judge_endpoint(settings: Settings) -> JudgeEndpoint | None:
    """The configured judge: the ``JUDGE_*`` server (URL and key together) when
    ``JUDGE_BASE_URL`` or ``JUDGE_API_KEY`` is set, else the ``OPENAI_*`` server when one is
    configured (a key alone means OpenAI's API, named explicitly so the client never picks a URL
    from the environment); None otherwise. The model is ``JUDGE_MODEL_ID``, else
    ``OPENAI_MODEL_ID``. A key is only ever sent to its own server.

    Args:
        settings: The ``JUDGE_*`` and ``OPENAI_*`` settings.
    """
    if settings.llm.judge_base_url or settings.llm.judge_api_key is not None:
        url, key = settings.llm.judge_base_url, settings.llm.judge_api_key
    elif settings.llm.openai_base_url or settings.llm.openai_api_key is not None:
        url, key = settings.llm.openai_base_url, settings.llm.openai_api_key
    else:
        return None
    return JudgeEndpoint(
        base_url=url or OPENAI_API_URL,
        model=settings.llm.judge_model_id or settings.llm.openai_model_id,
        api_key=key.get_secret_value() if key is not None else "",
    )
