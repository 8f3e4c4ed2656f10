"""The served model behind one handle that a new version can replace while requests run.

:class:`ModelHolder` is an :class:`~llm_twin.infrastructure.llm.base.LLMBackend` that forwards
to the model loaded now. Each request takes a reference to that model when it starts and gives
it back when its answer ends (its token stream closed), so :meth:`ModelHolder.swap` switches
every new request to the new model at once, while requests already answering finish on the old
one; the old one is closed (its memory freed) when the last of them ends.
"""

import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from loguru import logger

from llm_twin.infrastructure.llm.base import (
    Completion,
    GenerationParams,
    LLMBackend,
    Messages,
    TokenStream,
)


class ServedLike(Protocol):
    """What was loaded: the model folder and the id reported for it."""

    @property
    def path(self) -> Path: ...

    @property
    def model_id(self) -> str: ...


@dataclass(eq=False)
class _Loaded:
    """One loaded backend and the requests using it.

    Attributes:
        backend: The loaded backend.
        served: The model it was built for (None when unknown).
        users: Requests answering with it now.
        retired: Replaced by a newer model: closed when ``users`` drops to 0.
        closed: Already closed.
    """

    backend: LLMBackend
    served: ServedLike | None
    users: int = 0
    retired: bool = False
    closed: bool = False


class ModelHolder(LLMBackend):
    """The current model, swappable while requests run (see the module docstring).

    Args:
        backend: The first model (not necessarily loaded: :meth:`load` loads it).
        served: The model folder ``backend`` serves, when known (the reload watcher compares
            the registry's production model with it).
    """

    name = "holder"

    def __init__(self, backend: LLMBackend, served: ServedLike | None = None) -> None:
        self._lock = threading.Lock()
        self._current = _Loaded(backend, served)
        self._retired: list[_Loaded] = []

    # -- what is served ----------------------------------------------------------------------
    @property
    def backend(self) -> LLMBackend:
        """The model new requests use."""
        return self._current.backend

    @property
    def served(self) -> ServedLike | None:
        """The model folder new requests use, when known."""
        return self._current.served

    @property
    def model_id(self) -> str:  # type: ignore[override]
        return self._current.backend.model_id

    @property
    def supports_json_mode(self) -> bool:  # type: ignore[override]
        return self._current.backend.supports_json_mode

    @property
    def retired_in_use(self) -> int:
        """Replaced models still answering a request (not yet freed)."""
        with self._lock:
            return sum(1 for loaded in self._retired if not loaded.closed)

    # -- the backend interface ---------------------------------------------------------------
    def load(self) -> None:
        self._current.backend.load()

    def check(self) -> None:
        self._current.backend.check()

    def warm_up(self) -> None:
        self._current.backend.warm_up()

    def stream(self, messages: Messages, params: GenerationParams) -> TokenStream:
        """Start answering on the current model, which stays loaded until the stream is closed
        (or dropped)."""
        loaded = self._acquire()
        try:
            stream = loaded.backend.stream(messages, params)
        except BaseException:
            self._release(loaded)
            raise
        release = _once(lambda: self._release(loaded))
        stream.add_close_callback(release)
        # A stream dropped without close (a request failing between its start and its end)
        # still gives the model back.
        weakref.finalize(stream, release)
        return stream

    def generate_batch(
        self, conversations: Sequence[Messages], params: GenerationParams
    ) -> list[Completion]:
        loaded = self._acquire()
        try:
            return loaded.backend.generate_batch(conversations, params)
        finally:
            self._release(loaded)

    # -- swapping ----------------------------------------------------------------------------
    def swap(self, backend: LLMBackend, served: ServedLike | None = None) -> LLMBackend:
        """Serve ``backend`` (loaded) from now on; the model it replaces is closed once the
        requests using it have ended. Returns the replaced backend.

        Args:
            backend: The new, loaded model.
            served: The model folder it serves.
        """
        with self._lock:
            old = self._current
            self._current = _Loaded(backend, served)
            old.retired = True
            self._retired.append(old)
            idle = old.users == 0
        logger.info(
            "now serving {} (replacing {}{})",
            backend.model_id,
            old.backend.model_id,
            "" if idle else f", freed when its {old.users} running request(s) end",
        )
        if idle:
            self._free(old)
        return old.backend

    def close(self) -> None:
        """Close the current model and every replaced one still open."""
        with self._lock:
            everything = [self._current, *self._retired]
            self._retired = []
        for loaded in everything:
            self._free(loaded)

    # -- reference counting ------------------------------------------------------------------
    def _acquire(self) -> _Loaded:
        with self._lock:
            loaded = self._current
            loaded.users += 1
            return loaded

    def _release(self, loaded: _Loaded) -> None:
        with self._lock:
            loaded.users -= 1
            free = loaded.retired and loaded.users == 0
        if free:
            self._free(loaded)

    def _free(self, loaded: _Loaded) -> None:
        with self._lock:
            if loaded.closed:
                return
            loaded.closed = True
            if loaded in self._retired:
                self._retired.remove(loaded)
        loaded.backend.close()
        if loaded.retired:
            logger.info("freed the replaced model {}", loaded.backend.model_id)


def _once(function: Callable[[], None]) -> Callable[[], None]:
    """``function``, run on the first call only (a stream is released on close or on drop)."""
    done = threading.Event()
    lock = threading.Lock()

    def run() -> None:
        with lock:
            if done.is_set():
                return
            done.set()
        function()

    return run
