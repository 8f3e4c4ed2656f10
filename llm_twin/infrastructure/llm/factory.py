"""Backends built from settings (``LLM_BACKENDS`` and the per-backend settings), or for an
explicit OpenAI-compatible endpoint or local model folder: the one place a model client is made.

Which local model the service serves is not decided here (the model registry knows its own
folder layout): callers pass a ``served_model`` resolver, e.g.
:func:`llm_twin.model.registry.served_model`.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from llm_twin.domain.exceptions import ImproperlyConfigured
from llm_twin.infrastructure.llm.base import LLMBackend
from llm_twin.infrastructure.llm.judge_endpoint import OPENAI_API_URL, JudgeEndpoint
from llm_twin.settings import Settings, get_settings

if TYPE_CHECKING:
    from llm_twin.infrastructure.llm.ct2 import CTranslate2Backend
    from llm_twin.infrastructure.llm.local import TransformersBackend
    from llm_twin.infrastructure.llm.openai_compat import OpenAICompatibleBackend

BACKENDS = ("local", "openai", "sagemaker")
#: Engines of the local backend (``LLM_ENGINE``).
ENGINES = ("auto", "ct2", "transformers")


class ServedModelLike(Protocol):
    """Which model folder the local backend serves, and the id it reports."""

    @property
    def path(self) -> Path: ...

    @property
    def model_id(self) -> str: ...


@dataclass(frozen=True)
class LocalModel:
    """A local model folder and the id reported for it.

    Attributes:
        path: The Hugging Face model folder.
        model_id: Its id in responses and traces.
    """

    path: Path
    model_id: str


#: Resolves the local model to serve from the settings.
ServedModelResolver = Callable[[Settings], ServedModelLike]


def configured_model(settings: Settings) -> LocalModel:
    """``LLM_MODEL_PATH`` when set, else the offline base model, named after its folder (the
    resolver used when the caller passes none; the service passes the registry's)."""
    path = settings.llm.model_path or settings.llm_model_path
    return LocalModel(path, path.name)


def openai_backend(
    base_url: str,
    model: str,
    api_key: str = "",
    *,
    timeout: float = 60.0,
    retries: int = 1,
) -> "OpenAICompatibleBackend":
    """A backend for an explicit OpenAI-compatible endpoint (a judge, a dataset writer).

    Args:
        base_url: The server's base URL, ``/v1`` included.
        model: Model name to request.
        api_key: Its key (never logged; empty for servers that need none).
        timeout: Seconds per request.
        retries: Retries of a failed request (connection errors, timeouts, 429, 5xx).
    """
    from llm_twin.infrastructure.llm.openai_compat import OpenAICompatibleBackend

    return OpenAICompatibleBackend(base_url, model, api_key, timeout, retries)


def judge_backend(
    endpoint: JudgeEndpoint, *, timeout: float = 60.0, retries: int = 1
) -> "OpenAICompatibleBackend":
    """A backend for the evaluations' judge (see :func:`~llm_twin.infrastructure.llm.
    judge_endpoint.judge_endpoint`).

    Args:
        endpoint: The judge's URL, model and key.
        timeout: Seconds per request.
        retries: Retries of a failed request (connection errors, timeouts, 429, 5xx).
    """
    return openai_backend(
        endpoint.base_url, endpoint.model, endpoint.api_key, timeout=timeout, retries=retries
    )


def openai_backend_from_settings(
    settings: Settings,
    *,
    timeout: float,
    retries: int,
    missing: str = "LLM backend 'openai' needs OPENAI_BASE_URL (and OPENAI_MODEL_ID, "
    "OPENAI_API_KEY)",
) -> "OpenAICompatibleBackend":
    """The ``OPENAI_BASE_URL`` / ``OPENAI_MODEL_ID`` / ``OPENAI_API_KEY`` server (a key alone
    means OpenAI's API).

    Args:
        settings: Where the server is configured.
        timeout: Seconds per request.
        retries: Retries of a failed request.
        missing: The error message when no server is configured (names what needs it).

    Raises:
        ImproperlyConfigured: neither ``OPENAI_BASE_URL`` nor ``OPENAI_API_KEY`` is set.
    """
    if not settings.llm.openai_base_url and settings.llm.openai_api_key is None:
        raise ImproperlyConfigured(missing)
    key = settings.llm.openai_api_key.get_secret_value() if settings.llm.openai_api_key else ""
    return openai_backend(
        settings.llm.openai_base_url or OPENAI_API_URL,
        settings.llm.openai_model_id,
        key,
        timeout=timeout,
        retries=retries,
    )


def local_backend(
    model_path: Path | str,
    device: str = "cpu",
    *,
    timeout: float = 60.0,
    model_id: str | None = None,
    threads: int = 0,
    tokenizer_path: Path | str | None = None,
    adapter: Path | str | Sequence[Path | str] | None = None,
    allow_hub_id: bool = False,
) -> "TransformersBackend":
    """A backend for an explicit local model folder (not loaded yet).

    Args:
        model_path: The Hugging Face model folder (or Hub id).
        device: ``cpu``, ``cuda`` or ``auto``.
        timeout: Seconds to wait for a streamed token.
        model_id: Id reported for it (default: the folder's name).
        threads: Torch CPU threads (0: leave torch's setting).
        tokenizer_path: Where the tokenizer (and chat template) comes from (default: the model
            folder).
        adapter: A LoRA adapter folder merged into the weights at load time, or an ordered stack
            of them.
        allow_hub_id: Accept a Hugging Face Hub id for ``model_path``.
    """
    from llm_twin.infrastructure.llm.local import TransformersBackend

    return TransformersBackend(
        model_path,
        device,
        timeout,
        model_id=model_id,
        threads=threads,
        tokenizer_path=tokenizer_path,
        adapter=adapter,
        allow_hub_id=allow_hub_id,
    )


def ct2_backend(
    export_dir: Path | str,
    *,
    timeout: float = 60.0,
    model_id: str | None = None,
    threads: int = 0,
    max_concurrent: int = 1,
) -> "CTranslate2Backend":
    """A CTranslate2 backend for an export folder (not loaded yet).

    Args:
        export_dir: The CTranslate2 export (see :func:`~llm_twin.infrastructure.llm.exports.
            convert_to_ct2`).
        timeout: Seconds to wait for a generation slot and the first token.
        model_id: Id reported for it (default: the folder's name).
        threads: CPU threads per generation (0: CTranslate2's default).
        max_concurrent: Generations running at once.
    """
    from llm_twin.infrastructure.llm.ct2 import CTranslate2Backend

    return CTranslate2Backend(export_dir, timeout, model_id, threads, max_concurrent=max_concurrent)


def engine_for(model_path: Path, engine: str = "auto", device: str = "cpu") -> str:
    """The engine that runs the local model at ``model_path``: ``ct2`` or ``transformers``.

    ``auto`` picks ct2 on the CPU when the folder has a finished CTranslate2 export (or is one)
    and the ``ctranslate2`` package is installed, else transformers (GPU, or no export).

    Args:
        model_path: The served Hugging Face folder (or a CTranslate2 export folder).
        engine: ``auto``, ``ct2`` or ``transformers`` (``LLM_ENGINE``).
        device: ``LLM_DEVICE``.

    Raises:
        ImproperlyConfigured: unknown engine, or ct2 asked for on a GPU device.
    """
    import importlib.util

    from llm_twin.infrastructure.llm.exports import EXPORT_MARKER, has_ct2_export

    if engine not in ENGINES:
        raise ImproperlyConfigured(f"unknown LLM_ENGINE {engine!r}; use one of {ENGINES}")
    if engine == "ct2" and device == "cuda":
        raise ImproperlyConfigured("LLM_ENGINE=ct2 runs on the CPU: set LLM_DEVICE=cpu")
    if engine != "auto":
        return engine
    exported = (model_path / EXPORT_MARKER).is_file() or has_ct2_export(model_path)
    installed = importlib.util.find_spec("ctranslate2") is not None
    return "ct2" if device == "cpu" and exported and installed else "transformers"


def engine_backend(
    model_path: Path,
    *,
    engine: str = "auto",
    device: str = "cpu",
    timeout: float = 60.0,
    model_id: str | None = None,
    threads: int = 0,
    max_concurrent: int = 1,
) -> "CTranslate2Backend | TransformersBackend":
    """The local backend for the model at ``model_path`` on the engine :func:`engine_for`
    picks (not loaded yet): its CTranslate2 export (or the folder itself when it is one), else
    transformers.

    Args:
        model_path: The Hugging Face folder (or a CTranslate2 export folder).
        engine: ``auto``, ``ct2`` or ``transformers`` (``LLM_ENGINE``).
        device: ``cpu``, ``cuda`` or ``auto``.
        timeout: Seconds to wait for a (first) token.
        model_id: Id reported for it (default: the folder's name).
        threads: CPU threads (0: the engine's default).
        max_concurrent: Generations the ct2 engine runs at once.
    """
    from llm_twin.infrastructure.llm.exports import EXPORT_MARKER, ct2_export_dir

    if engine_for(model_path, engine, device) == "ct2":
        is_export = (model_path / EXPORT_MARKER).is_file()
        return ct2_backend(
            model_path if is_export else ct2_export_dir(model_path),
            timeout=timeout,
            model_id=model_id or model_path.name,
            threads=threads,
            max_concurrent=max_concurrent,
        )
    return local_backend(model_path, device, timeout=timeout, model_id=model_id, threads=threads)


def local_engine_backend(
    served: ServedModelLike, settings: Settings
) -> "CTranslate2Backend | TransformersBackend":
    """The service's local backend for ``served`` (see :func:`engine_backend`), configured by
    ``LLM_ENGINE``, ``LLM_DEVICE``, ``LLM_THREADS``, ``LLM_TIMEOUT`` and ``LLM_MAX_CONCURRENT``.

    Args:
        served: The model folder (Hugging Face, or a CTranslate2 export) and its id.
        settings: Where the engine settings come from.
    """
    llm = settings.llm
    return engine_backend(
        served.path,
        engine=llm.engine,
        device=llm.device,
        timeout=llm.timeout,
        model_id=served.model_id,
        threads=llm.threads,
        max_concurrent=llm.max_concurrent,
    )


def build_backend(
    name: str, settings: Settings, served_model: ServedModelResolver | None = None
) -> LLMBackend:
    """One backend by name (not loaded yet).

    Args:
        name: ``local``, ``openai`` or ``sagemaker``.
        settings: Where its configuration comes from.
        served_model: Which model the local backend serves (default
            :func:`configured_model`; the service passes the model registry's resolver).

    Raises:
        ImproperlyConfigured: unknown name or a required setting missing.
    """
    if name == "local":
        return local_engine_backend((served_model or configured_model)(settings), settings)
    if name == "openai":
        return openai_backend_from_settings(
            settings, timeout=settings.llm.timeout, retries=settings.llm.retries
        )
    if name == "sagemaker":
        from llm_twin.infrastructure.llm.sagemaker import SageMakerBackend

        if not settings.aws.sagemaker_endpoint_name:
            raise ImproperlyConfigured("LLM backend 'sagemaker' needs SAGEMAKER_ENDPOINT_NAME")
        return SageMakerBackend(
            settings.aws.sagemaker_endpoint_name,
            settings.aws.region,
            settings.llm.timeout,
            settings.llm.retries,
            access_key=settings.aws.access_key.get_secret_value()
            if settings.aws.access_key
            else None,
            secret_key=settings.aws.secret_key.get_secret_value()
            if settings.aws.secret_key
            else None,
        )
    raise ImproperlyConfigured(f"unknown LLM backend {name!r} in LLM_BACKENDS; use {BACKENDS}")


def build_llm(
    settings: Settings | None = None, served_model: ServedModelResolver | None = None
) -> LLMBackend:
    """The ``LLM_BACKENDS`` chain as one backend (a :class:`FallbackLLM`), not loaded yet.

    Args:
        settings: Defaults to :func:`get_settings`.
        served_model: Which model the local backend serves (see :func:`build_backend`).
    """
    from llm_twin.infrastructure.llm.fallback import FallbackLLM

    settings = settings or get_settings()
    names = settings.llm_backends
    if not names:
        raise ImproperlyConfigured("LLM_BACKENDS is empty; name at least one of " + str(BACKENDS))
    return FallbackLLM([build_backend(name, settings, served_model) for name in names])
