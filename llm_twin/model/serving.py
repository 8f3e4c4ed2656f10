"""Which registry version a serving command (SageMaker endpoint, vLLM) serves."""

from llm_twin.domain.exceptions import InvalidInput
from llm_twin.model.registry import DEFAULT_MODEL_NAME, ModelRegistry, ModelVersion, registry_root
from llm_twin.settings import Settings


def resolve_version(
    settings: Settings, version: str, model_name: str | None = None
) -> ModelVersion:
    """The registry version to serve: a number, or ``production``.

    Args:
        settings: DATA_DIR (the registry).
        version: A version number, or ``production``.
        model_name: Registry model name (default: the registry's default model).

    Raises:
        InvalidInput: no such version, no production version, or its model folder is missing.
    """
    if version != "production" and not version.isdigit():
        raise InvalidInput(f"--version must be a number or 'production', got {version!r}")
    registry = ModelRegistry(registry_root(settings), model_name or DEFAULT_MODEL_NAME, zenml=False)
    chosen = registry.select(version)
    if not (chosen.model_dir / "config.json").is_file():
        raise InvalidInput(f"version {chosen.version} has no merged model at {chosen.model_dir}")
    return chosen
