"""Read the ``parameters:`` block of a pipeline config, so that composed pipelines
(``end_to_end_data``) reuse each stage's own config file instead of repeating it."""

from pathlib import Path
from typing import Any


def load_parameters(config: str) -> dict[str, Any]:
    """The ``parameters`` mapping of the YAML file ``config``.

    Args:
        config: Path of a pipeline config (``configs/x.yaml``); relative paths are taken from the
            project root.

    Raises:
        InvalidInput: the file is missing, is not YAML, or has no ``parameters`` mapping.
    """
    import yaml

    from llm_twin.domain.exceptions import InvalidInput
    from llm_twin.settings import PROJECT_ROOT

    path = PROJECT_ROOT / Path(config)
    if not path.is_file():
        raise InvalidInput(f"pipeline config {config!r} not found (looked in {path})")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise InvalidInput(f"pipeline config {config!r} is not valid YAML: {error}") from None
    parameters = (document or {}).get("parameters") if isinstance(document, dict) else None
    if not isinstance(parameters, dict):
        raise InvalidInput(f"pipeline config {config!r} has no 'parameters:' mapping")
    return parameters
