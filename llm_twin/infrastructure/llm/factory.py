"""Backends built from settings (``LLM_BACKENDS`` and the per-backend settings)."""

from pathlib import Path

from loguru import logger

from llm_twin.domain.exceptions import ImproperlyConfigured
from llm_twin.infrastructure.llm.base import LLMBackend
from llm_twin.settings import Settings, get_settings

BACKENDS = ("local", "openai", "sagemaker")


def local_model_path(settings: Settings) -> Path:
    """The model the local backend serves: ``LLM_MODEL_PATH`` when set, else the registry's
    production twin, else the offline base model (with a logged notice)."""
    if settings.LLM_MODEL_PATH:
        return settings.LLM_MODEL_PATH
    from llm_twin.model.registry import production_model_path

    production = production_model_path(settings)
    if production is not None:
        logger.info("serving the production twin from the model registry: {}", production)
        return production
    logger.info(
        "no production twin in the model registry: serving the base model {} "
        "(run the training pipeline, then poe promote-model, to serve a fine-tuned twin)",
        settings.llm_model_path,
    )
    return settings.llm_model_path


def local_model_id(path: Path) -> str:
    """The id the local backend reports: ``llm-twin-v3`` for a registry version's model folder
    (``registry/llm-twin/3/model``), else the folder's name."""
    from llm_twin.model.registry import RECORD_FILE

    if path.name == "model" and (path.parent / RECORD_FILE).is_file():
        return f"{path.parent.parent.name}-v{path.parent.name}"
    return path.name


def build_backend(name: str, settings: Settings) -> LLMBackend:
    """One backend by name (not loaded yet).

    Args:
        name: ``local``, ``openai`` or ``sagemaker``.
        settings: Where its configuration comes from.

    Raises:
        ImproperlyConfigured: unknown name or a required setting missing.
    """
    if name == "local":
        from llm_twin.infrastructure.llm.local import TransformersBackend

        path = local_model_path(settings)
        return TransformersBackend(
            path,
            settings.LLM_DEVICE,
            settings.LLM_TIMEOUT,
            model_id=local_model_id(path),
            threads=settings.LLM_THREADS,
        )
    if name == "openai":
        from llm_twin.infrastructure.llm.openai_compat import OpenAICompatibleBackend

        if not settings.OPENAI_BASE_URL and settings.OPENAI_API_KEY is None:
            raise ImproperlyConfigured(
                "LLM backend 'openai' needs OPENAI_BASE_URL (and OPENAI_MODEL_ID, OPENAI_API_KEY)"
            )
        key = settings.OPENAI_API_KEY.get_secret_value() if settings.OPENAI_API_KEY else ""
        return OpenAICompatibleBackend(
            settings.OPENAI_BASE_URL or "https://api.openai.com/v1",
            settings.OPENAI_MODEL_ID,
            key,
            settings.LLM_TIMEOUT,
            settings.LLM_RETRIES,
        )
    if name == "sagemaker":
        from llm_twin.infrastructure.llm.sagemaker import SageMakerBackend

        if not settings.SAGEMAKER_ENDPOINT_NAME:
            raise ImproperlyConfigured("LLM backend 'sagemaker' needs SAGEMAKER_ENDPOINT_NAME")
        return SageMakerBackend(
            settings.SAGEMAKER_ENDPOINT_NAME,
            settings.AWS_REGION,
            settings.LLM_TIMEOUT,
            settings.LLM_RETRIES,
            access_key=settings.AWS_ACCESS_KEY.get_secret_value()
            if settings.AWS_ACCESS_KEY
            else None,
            secret_key=settings.AWS_SECRET_KEY.get_secret_value()
            if settings.AWS_SECRET_KEY
            else None,
        )
    raise ImproperlyConfigured(f"unknown LLM backend {name!r} in LLM_BACKENDS; use {BACKENDS}")


def build_llm(settings: Settings | None = None) -> LLMBackend:
    """The ``LLM_BACKENDS`` chain as one backend (a :class:`FallbackLLM`), not loaded yet."""
    from llm_twin.infrastructure.llm.fallback import FallbackLLM

    settings = settings or get_settings()
    names = settings.llm_backends
    if not names:
        raise ImproperlyConfigured("LLM_BACKENDS is empty; name at least one of " + str(BACKENDS))
    return FallbackLLM([build_backend(name, settings) for name in names])
