"""Which registry version is served: by a serving command (SageMaker endpoint, vLLM), and by the
inference service, which follows promotions while it runs.

The service's model sits in a :class:`~llm_twin.model.holder.ModelHolder`
(:func:`build_served_llm`); a :class:`ProductionWatcher` polls the registry's version records
every ``API_MODEL_RELOAD_SECONDS``. When the model to serve changes (``poe promote-model``, the
evaluation gate, continuous training), it loads the new version beside the old one and swaps
them: new requests go to the new version at once, running ones finish on the old, which is then
freed. A version that fails to load is logged and the old one keeps serving.
"""

import threading
from collections.abc import Callable
from pathlib import Path

from loguru import logger

from llm_twin.domain.exceptions import InvalidInput
from llm_twin.infrastructure.llm.base import LLMBackend, LLMUnavailable
from llm_twin.model.holder import ModelHolder
from llm_twin.model.registry import (
    DEFAULT_MODEL_NAME,
    RECORD_FILE,
    ModelRegistry,
    ModelVersion,
    ServedModel,
    registry_root,
    served_model,
)
from llm_twin.settings import Settings

#: Loads the backend chain serving a model: (settings, model) -> a loaded backend.
BackendLoader = Callable[[Settings, ServedModel], LLMBackend]
#: Told each reload's outcome (``loaded`` or ``failed``) and the model id it concerned.
ReloadListener = Callable[[str, str], None]


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


def build_served_llm(settings: Settings) -> ModelHolder:
    """The ``LLM_BACKENDS`` chain serving :func:`~llm_twin.model.registry.served_model`, in a
    holder that a reload can swap (not loaded yet).

    Args:
        settings: The service's settings.
    """
    from llm_twin.infrastructure.llm.factory import build_llm

    served = served_model(settings)
    return ModelHolder(build_llm(settings, lambda _settings: served), served)


def load_served_backend(settings: Settings, served: ServedModel) -> LLMBackend:
    """The ``LLM_BACKENDS`` chain serving ``served``, loaded and warmed up.

    Args:
        settings: The service's settings.
        served: The model folder and id.

    Raises:
        LLMUnavailable: the local model did not load (nothing stays loaded).
    """
    from llm_twin.infrastructure.llm.factory import build_llm

    backend = build_llm(settings, lambda _settings: served)
    try:
        backend.load()
        # The chain keeps a backend that failed to load (so the others serve): a reload
        # must not swap in a chain whose local model is missing.
        problem = getattr(backend, "load_errors", {}).get("local")
        if problem:
            raise LLMUnavailable(problem)
        backend.warm_up()
    except BaseException:
        backend.close()
        raise
    return backend


def reload_enabled(settings: Settings) -> bool:
    """Whether the service follows promotions: ``API_MODEL_RELOAD_SECONDS`` > 0, the local
    backend in ``LLM_BACKENDS`` and no ``LLM_MODEL_PATH`` pinning the model."""
    return (
        settings.api.model_reload_seconds > 0
        and "local" in settings.llm_backends
        and settings.llm.model_path is None
    )


def registry_signature(settings: Settings) -> tuple[tuple[str, int], ...]:
    """What changes when a version is registered, promoted or re-recorded: each version
    record's path and modification time."""
    folder = registry_root(settings) / DEFAULT_MODEL_NAME
    signature = []
    for record in sorted(folder.glob(f"*/{RECORD_FILE}")):
        try:
            signature.append((str(record), record.stat().st_mtime_ns))
        except FileNotFoundError:  # a version folder removed meanwhile
            continue
    return tuple(signature)


class ProductionWatcher:
    """Follows the model registry in a background thread and swaps the served model.

    Args:
        settings: The service's settings (``DATA_DIR``, the backend settings).
        holder: The service's model holder.
        interval: Seconds between two looks at the registry.
        loader: Loads the backend of a model (default :func:`load_served_backend`).
        listener: Told each reload's outcome.
    """

    def __init__(
        self,
        settings: Settings,
        holder: ModelHolder,
        *,
        interval: float,
        loader: BackendLoader = load_served_backend,
        listener: ReloadListener | None = None,
    ) -> None:
        self.settings = settings
        self.holder = holder
        self.interval = interval
        self.loader = loader
        self.listener = listener
        self._signature = registry_signature(settings)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start watching (a daemon thread)."""
        self._thread = threading.Thread(target=self._run, name="model-reload", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching (waits for a load in progress to end)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.check()

    def check(self) -> bool:
        """Look at the registry once; load and swap in the model to serve if it changed.
        Returns True when a new model was swapped in."""
        signature = registry_signature(self.settings)
        if signature == self._signature:
            return False
        # Remembered before loading: a version that fails to load is tried again only when
        # the registry changes again.
        self._signature = signature
        wanted = served_model(self.settings)
        current = self.holder.served
        if current is not None and _same(wanted, current.path, current.model_id):
            return False
        return self._load(wanted)

    def _load(self, wanted: ServedModel) -> bool:
        old = self.holder.model_id
        logger.info("the model to serve is now {}: loading it beside {}", wanted.model_id, old)
        try:
            backend = self.loader(self.settings, wanted)
        except Exception as error:  # any failure to load keeps the old model serving
            logger.error(
                "could not load {} from {} ({}: {}); still serving {}",
                wanted.model_id,
                wanted.path,
                type(error).__name__,
                error,
                old,
            )
            self._tell("failed", wanted.model_id)
            return False
        self.holder.swap(backend, wanted)
        self._tell("loaded", wanted.model_id)
        return True

    def _tell(self, outcome: str, model_id: str) -> None:
        if self.listener is not None:
            self.listener(outcome, model_id)


def _same(served: ServedModel, path: Path, model_id: str) -> bool:
    return served.path == path and served.model_id == model_id
