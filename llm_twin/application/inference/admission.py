"""Admission control for generation, independent of HTTP: a bounded queue per model, request
cancellation (client gone, deadline passed) and the cap on ``max_tokens``.

A model generates ``slots`` answers at a time (the local model: one). Up to ``depth`` more
requests wait for a slot, in arrival order, each at most ``max_wait`` seconds. A request beyond
that, or whose estimated wait (the requests ahead of it times the measured service time, plus
one service time of margin) is longer than ``max_wait``, is refused at once with
:class:`Overloaded` (the API answers 429 with ``Retry-After``), so load is shed before any work
is done instead of timing out a minute later. A request that is cancelled or times out
while queued never starts generating.
"""

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from llm_twin.domain.exceptions import InvalidInput, LLMTwinError


class Overloaded(LLMTwinError):
    """The model's queue is full (or its wait too long): try again after ``retry_after`` s.

    Args:
        message: Why the request was refused.
        retry_after: Seconds after which a retry may be admitted (at least 1).
    """

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = max(1, math.ceil(retry_after))


class RequestCancelled(LLMTwinError):
    """The request was cancelled (its client left or its deadline passed): nothing more is
    generated for it."""


class Cancellation:
    """Cancels one request: set by the API when the client disconnects, or by the deadline.

    Callbacks registered with :meth:`on_cancel` (closing the token stream) run once, when the
    request is cancelled; one registered after that runs at once.

    Args:
        deadline_s: Seconds the request may take from now (``None``: no deadline).
        clock: The monotonic clock (tests pass their own).
    """

    def __init__(
        self, deadline_s: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._clock = clock
        self.deadline = None if deadline_s is None else clock() + deadline_s
        self.reason: str | None = None
        self._callbacks: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        if deadline_s is not None:
            self._timer = threading.Timer(deadline_s, self.cancel, ("deadline passed",))
            self._timer.daemon = True
            self._timer.start()

    @property
    def cancelled(self) -> bool:
        return self.reason is not None

    def remaining(self) -> float | None:
        """Seconds left before the deadline (``None``: no deadline)."""
        return None if self.deadline is None else self.deadline - self._clock()

    def cancel(self, reason: str = "client disconnected") -> None:
        """Cancel the request (idempotent) and run the registered callbacks.

        Args:
            reason: Why (recorded in the trace).
        """
        with self._lock:
            if self.reason is not None:
                return
            self.reason = reason
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()

    def on_cancel(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` when the request is cancelled (at once if it already is)."""
        with self._lock:
            if self.reason is None:
                self._callbacks.append(callback)
                return
        callback()

    def check(self) -> None:
        """Raise :class:`RequestCancelled` if the request was cancelled."""
        if self.reason is not None:
            raise RequestCancelled(f"request cancelled: {self.reason}")

    def done(self) -> None:
        """The request ended: stop the deadline timer."""
        if self._timer is not None:
            self._timer.cancel()


class GenerationGate:
    """The bounded queue in front of one model.

    Args:
        model: The model's id (in messages), or a function returning it (a service whose model
            is reloaded names the one serving now).
        slots: Answers generated at once.
        depth: Requests that may wait for a slot; more are refused at once.
        max_wait: Longest wait for a slot (s); a request whose estimated wait is longer is
            refused at once, one that waits that long is refused then.
    """

    def __init__(
        self, model: str | Callable[[], str], *, slots: int, depth: int, max_wait: float
    ) -> None:
        self._model = model
        self.slots = max(1, slots)
        self.depth = max(0, depth)
        self.max_wait = max_wait
        self.active = 0
        #: Tickets of the queued requests, oldest first: slots go to them in arrival order, so
        #: the wait estimated at admission holds (a newer request never overtakes an older one).
        self._queue: deque[object] = deque()
        #: Moving average of the time one request holds a slot (s); starts unknown.
        self.service_time: float | None = None
        self._condition = threading.Condition()

    @property
    def model(self) -> str:
        """The id of the model this queue is in front of."""
        return self._model() if callable(self._model) else self._model

    @property
    def waiting(self) -> int:
        """Requests queued for a slot."""
        return len(self._queue)

    def _requests_ahead(self, queued_before: int) -> int:
        """Requests that must release a slot before one with ``queued_before`` requests queued in
        front of it gets one: those queued before it, plus the generating ones beyond the
        slots that are free."""
        return max(0, queued_before + self.active + 1 - self.slots)

    def _time_for(self, requests: int) -> float | None:
        """Seconds ``requests`` hold the slots by the measured service time (None while no answer
        has been timed). The one estimate behind both admission and giving up in the queue."""
        if self.service_time is None:
            return None
        return requests / self.slots * self.service_time

    def _estimated_wait(self) -> float:
        """Seconds a newly queued request would wait for its slot, with one service time of
        margin (a request ahead may take longer than the average); 0 while the service time is
        unknown or a slot is free."""
        ahead = self._requests_ahead(self.waiting)
        return (self._time_for(ahead + 1) or 0.0) if ahead else 0.0

    def _refuse_now(self) -> None:
        """Raise :class:`Overloaded` when the queue is full or its wait too long."""
        if self.active < self.slots and self.waiting == 0:
            return
        estimate = self._estimated_wait()
        if self.service_time is None and self.waiting >= self.slots:
            # Cold start: with no answer timed yet the wait cannot be estimated, so only one
            # request per slot queues (a burst would otherwise fill the queue and time out).
            raise Overloaded(
                f"model {self.model} is busy: its first answers are not timed yet "
                f"({self.active} generating, {self.waiting} queued); retry later",
                1,
            )
        if self.waiting >= self.depth:
            raise Overloaded(
                f"model {self.model} is busy: {self.active} generating and {self.waiting} "
                f"queued (queue depth {self.depth}); retry later",
                estimate or self.max_wait,
            )
        if estimate > self.max_wait:
            raise Overloaded(
                f"model {self.model} is busy: the estimated wait of {estimate:.0f} s exceeds "
                f"{self.max_wait:.0f} s; retry later",
                estimate - self.max_wait,
            )

    @contextmanager
    def slot(self, cancellation: Cancellation) -> Iterator[None]:
        """Hold one generation slot for the ``with`` block (see :meth:`enter`)."""
        release = self.enter(cancellation)
        try:
            yield
        finally:
            release()

    def enter(self, cancellation: Cancellation) -> Callable[[], None]:
        """Wait for a generation slot; returns the (idempotent) function that frees it.

        Args:
            cancellation: The request's cancellation (wakes the wait when it fires).

        Raises:
            Overloaded: the queue is full, or no slot freed within ``max_wait`` (nothing ran).
            RequestCancelled: the request was cancelled while it waited (nothing ran).
        """
        with self._condition:
            self._refuse_now()
            ticket = object()
            self._queue.append(ticket)
            cancellation.on_cancel(self._wake)
            waited_until = time.monotonic() + self.max_wait
            try:
                while self.active >= self.slots or self._queue[0] is not ticket:
                    cancellation.check()
                    left = waited_until - time.monotonic()
                    if left <= 0:
                        raise Overloaded(
                            f"model {self.model} is busy: no slot within {self.max_wait:g} s",
                            self._estimated_wait() or self.max_wait,
                        )
                    self._give_up_if_too_slow(ticket, left)
                    self._condition.wait(left)
                cancellation.check()
            finally:
                self._queue.remove(ticket)
                # The next in line may take a free slot now (this one left, served or not).
                self._condition.notify_all()
            self.active += 1
        started = time.monotonic()
        held = [True]

        def release() -> None:
            with self._condition:
                if held.pop() if held else False:
                    self._release(time.monotonic() - started)

        return release

    def _give_up_if_too_slow(self, ticket: object, left: float) -> None:
        """Raise :class:`Overloaded` when the requests ahead of ``ticket`` will, by the measured
        service time, hold the slots longer than the ``left`` seconds it may still wait: it gives
        up now rather than when its wait runs out."""
        ahead = self._requests_ahead(self._queue.index(ticket))
        needed = self._time_for(ahead)
        if needed is not None and needed > left:
            raise Overloaded(
                f"model {self.model} is busy: the {ahead} request(s) ahead need about "
                f"{needed:.0f} s, more than the {left:.0f} s this one may still wait; retry later",
                needed,
            )

    def _release(self, held: float) -> None:
        with self._condition:
            self.active -= 1
            previous = self.service_time
            self.service_time = held if previous is None else 0.7 * previous + 0.3 * held
            self._condition.notify_all()

    def _wake(self) -> None:
        with self._condition:
            self._condition.notify_all()


def check_max_tokens(value: int | None, limit: int, field: str) -> None:
    """Refuse a requested answer length over the server's cap.

    Args:
        value: The requested ``max_tokens`` (``None``: the default).
        limit: The cap (``LLM_MAX_TOKENS_LIMIT``).
        field: The request field's name (in the message).

    Raises:
        InvalidInput: ``value`` is over ``limit``.
    """
    if value is not None and value > limit:
        raise InvalidInput(f"{field}: at most {limit} tokens per answer on this server")
