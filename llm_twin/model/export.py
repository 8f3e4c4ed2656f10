"""Exports of registered versions (and of the base model) for other engines.

- ``ct2``: an int8 CTranslate2 folder beside the Hugging Face folder (``model-ct2-int8/``),
  self-contained (tokenizer and chat template copied); the local backend serves it on the CPU
  (``LLM_ENGINE=auto|ct2``). Written at registration; :func:`export_version` covers versions
  registered before.
- ``gguf`` (llama.cpp, Ollama, LM Studio) is not offered: llama.cpp's converter
  (``convert_hf_to_gguf.py``) only ships inside the llama-cpp-python sdist, and nothing here can
  run a written file through llama.cpp to check it (see README "Engines").
"""

import json
import os
from pathlib import Path

from loguru import logger

from llm_twin.domain.exceptions import InvalidInput
from llm_twin.infrastructure.llm.exports import EXPORT_MARKER, convert_to_ct2, ct2_export_dir
from llm_twin.model.registry import RECORD_FILE, ModelRegistry, ModelVersion

#: Formats :func:`export_version` writes.
EXPORT_FORMATS = ("ct2",)
#: Marks the exports line of a model card (replaced on re-export).
_CARD_LINE = "| exports |"


def model_exports(model_dir: Path) -> dict[str, str]:
    """The finished exports beside ``model_dir``: ``{"ct2-int8": "model-ct2-int8"}`` (kind →
    folder name, a sibling of ``model_dir``)."""
    found = {}
    for candidate in sorted(model_dir.parent.glob(f"{model_dir.name}-ct2-*")):
        if (candidate / EXPORT_MARKER).is_file():
            found[candidate.name.removeprefix(model_dir.name + "-")] = candidate.name
    return found


def export_model(model_dir: Path, fmt: str = "ct2", *, force: bool = False) -> Path:
    """Write the ``fmt`` export of the Hugging Face folder ``model_dir`` (idempotent).

    Args:
        model_dir: A Hugging Face model folder.
        fmt: One of :data:`EXPORT_FORMATS`.
        force: Convert again even when the export exists.

    Raises:
        InvalidInput: unknown format (``gguf``: see the module docstring).
    """
    if fmt == "gguf":
        raise InvalidInput(
            "GGUF export is not available: llama.cpp's converter ships only inside the "
            "llama-cpp-python sdist and no llama.cpp runtime is here to verify a file (see "
            "README 'Engines'); use --format ct2"
        )
    if fmt not in EXPORT_FORMATS:
        raise InvalidInput(f"unknown export format {fmt!r}: {', '.join(EXPORT_FORMATS)}")
    return convert_to_ct2(model_dir, ct2_export_dir(model_dir), force=force)


def try_export(model_dir: Path, *, force: bool = False) -> dict[str, str]:
    """Write the default CT2 export of ``model_dir`` at registration; a failure (e.g. the
    ``ctranslate2`` package missing) is logged and leaves the version without it (the
    transformers engine still serves it).

    Args:
        model_dir: The Hugging Face folder.
        force: Convert again even when the export exists (the folder was rewritten).

    Returns:
        The exports now beside ``model_dir``.
    """
    from safetensors import SafetensorError  # unreadable weights: the converter's own error

    try:
        export_model(model_dir, "ct2", force=force)
    except (ImportError, OSError, ValueError, RuntimeError, SafetensorError) as error:
        logger.warning(
            "no CTranslate2 export of {}: {}: {} (run `poe export-model` later)",
            model_dir,
            type(error).__name__,
            error,
        )
    return model_exports(model_dir)


def export_version(
    registry: ModelRegistry, version: int, fmt: str = "ct2", *, force: bool = False
) -> ModelVersion:
    """Export ``version``'s merged model and record it (``details["exports"]``, model card).

    Raises:
        InvalidInput: unknown version or format, or the version has no merged model.
    """
    target = registry.get(version)
    if not (target.model_dir / "config.json").is_file():
        raise InvalidInput(f"version {version} has no merged model at {target.model_dir}")
    export_model(target.model_dir, fmt, force=force)
    return record_exports(registry, version)


def record_exports(registry: ModelRegistry, version: int) -> ModelVersion:
    """Store the exports found beside ``version``'s model in its record and card."""
    with registry._locked():
        target = registry.get(version)
        target.details["exports"] = model_exports(target.model_dir)
        temporary = target.path / (RECORD_FILE + ".tmp")
        temporary.write_text(json.dumps(target._record(), indent=1) + "\n")
        os.replace(temporary, target.path / RECORD_FILE)
        card = target.path / "README.md"
        if card.is_file():
            card.write_text(card_with_exports(card.read_text(encoding="utf-8"), target))
    logger.info("{} version {} exports: {}", registry.name, version, target.details["exports"])
    return target


def exports_line(exports: dict[str, str]) -> str:
    """The model card's table row naming the exports (folders relative to the version)."""
    names = ", ".join(f"`{folder}/` ({kind})" for kind, folder in exports.items())
    return f"{_CARD_LINE} {names or 'none (`poe export-model --version N --format ct2`)'} |"


def card_with_exports(card: str, version: ModelVersion) -> str:
    """``card`` with its exports row replaced (or added after the ``registered`` row)."""
    line = exports_line(version.details.get("exports") or {})
    lines = [existing for existing in card.splitlines() if not existing.startswith(_CARD_LINE)]
    for index, existing in enumerate(lines):
        if existing.startswith("| registered |"):
            lines.insert(index + 1, line)
            break
    return "\n".join(lines) + "\n"
