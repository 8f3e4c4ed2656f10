"""The generation queue and request cancellation, without HTTP (issue 18, finding 1)."""

import threading
import time

import pytest

from llm_twin.application.inference.admission import (
    Cancellation,
    GenerationGate,
    Overloaded,
    RequestCancelled,
    check_max_tokens,
)
from llm_twin.domain.exceptions import InvalidInput


def test_gate_refuses_beyond_depth_at_once_and_admits_in_turn():
    gate = GenerationGate("m", slots=1, depth=1, max_wait=5)
    first = gate.enter(Cancellation())
    admitted = threading.Event()

    def queued() -> None:
        gate.enter(Cancellation())()
        admitted.set()

    waiter = threading.Thread(target=queued)
    waiter.start()
    deadline = time.monotonic() + 5
    while gate.waiting == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    with pytest.raises(Overloaded) as refused:
        gate.enter(Cancellation())
    assert time.monotonic() - started < 0.5 and refused.value.retry_after >= 1
    first()
    first()  # idempotent: frees one slot only
    assert admitted.wait(5)
    waiter.join()
    assert gate.active == 0 and gate.waiting == 0


def test_gate_refuses_when_the_estimated_wait_is_too_long():
    gate = GenerationGate("m", slots=1, depth=10, max_wait=1)
    gate.service_time = 2.0
    release = gate.enter(Cancellation())
    with pytest.raises(Overloaded, match="estimated wait"):
        gate.enter(Cancellation())
    release()


def test_cancelling_a_queued_request_wakes_it_and_it_never_runs():
    gate = GenerationGate("m", slots=1, depth=4, max_wait=30)
    release = gate.enter(Cancellation())
    cancellation = Cancellation()
    outcome: list[BaseException] = []

    def queued() -> None:
        try:
            gate.enter(cancellation)
        except RequestCancelled as error:
            outcome.append(error)

    waiter = threading.Thread(target=queued)
    waiter.start()
    time.sleep(0.1)
    cancellation.cancel()
    waiter.join(timeout=2)
    assert outcome and gate.active == 1 and gate.waiting == 0
    release()


def test_deadline_cancels_and_runs_callbacks():
    closed = threading.Event()
    cancellation = Cancellation(deadline_s=0.1)
    cancellation.on_cancel(closed.set)
    assert closed.wait(2)
    with pytest.raises(RequestCancelled, match="deadline passed"):
        cancellation.check()


def test_max_tokens_cap():
    check_max_tokens(None, 512, "max_tokens")
    check_max_tokens(512, 512, "max_tokens")
    with pytest.raises(InvalidInput, match=r"^max_tokens: at most 512"):
        check_max_tokens(4096, 512, "max_tokens")


def test_queued_requests_get_the_slot_in_arrival_order():
    gate = GenerationGate("m", slots=1, depth=10, max_wait=30)
    gate.service_time = 0.01
    release = gate.enter(Cancellation())
    order: list[int] = []

    def queued(index: int) -> None:
        free = gate.enter(Cancellation())
        order.append(index)
        time.sleep(0.01)  # hold the slot a moment, as a generation would
        free()

    waiters = []
    for index in range(5):
        waiter = threading.Thread(target=queued, args=(index,))
        waiter.start()
        waiters.append(waiter)
        deadline = time.monotonic() + 5  # queue them one after another
        while gate.waiting < index + 1 and time.monotonic() < deadline:
            time.sleep(0.005)
    release()
    for waiter in waiters:
        waiter.join(timeout=5)
    assert order == [0, 1, 2, 3, 4]
    assert gate.active == 0 and gate.waiting == 0


def test_admission_keeps_one_service_time_of_margin():
    # One generating, none queued, 10 s per answer: the next would wait ~10 s, but a request
    # ahead may run long, so with max_wait 15 it is refused at once rather than waiting 15 s
    # for a 429 (the estimate counts one service time of margin: 20 s).
    gate = GenerationGate("m", slots=1, depth=10, max_wait=15)
    gate.service_time = 10.0
    release = gate.enter(Cancellation())
    started = time.monotonic()
    with pytest.raises(Overloaded, match="estimated wait of 20 s"):
        gate.enter(Cancellation())
    assert time.monotonic() - started < 0.5
    gate.max_wait = 25  # room for the margin: admitted and queued
    admitted = threading.Event()
    waiter = threading.Thread(target=lambda: (gate.enter(Cancellation())(), admitted.set()))
    waiter.start()
    release()
    assert admitted.wait(5)
    waiter.join()


def test_refusals_name_the_model_serving_now():
    serving = ["v1"]
    gate = GenerationGate(lambda: serving[0], slots=1, depth=0, max_wait=5)
    release = gate.enter(Cancellation())
    serving[0] = "v2"  # hot reload
    with pytest.raises(Overloaded, match=r"^model v2 is busy"):
        gate.enter(Cancellation())
    release()


def test_cold_start_queues_one_request_per_slot_until_an_answer_is_timed():
    gate = GenerationGate("m", slots=1, depth=10, max_wait=30)
    release = gate.enter(Cancellation())
    waiter = threading.Thread(target=lambda: gate.enter(Cancellation())())
    waiter.start()
    deadline = time.monotonic() + 5
    while gate.waiting == 0 and time.monotonic() < deadline:
        time.sleep(0.005)
    started = time.monotonic()
    with pytest.raises(Overloaded, match="not timed yet"):
        gate.enter(Cancellation())
    assert time.monotonic() - started < 0.5
    release()
    waiter.join(timeout=5)
    assert gate.service_time is not None and gate.active == 0 and gate.waiting == 0


def test_a_queued_request_gives_up_once_the_measured_time_ahead_exceeds_its_wait():
    gate = GenerationGate("m", slots=1, depth=10, max_wait=5)
    gate.service_time = 1.0
    release = gate.enter(Cancellation())
    outcome: list[float] = []
    refusals: list[Overloaded] = []

    def queued() -> None:
        started = time.monotonic()
        with pytest.raises(Overloaded, match="the 1 request") as refused:
            gate.enter(Cancellation())
        outcome.append(time.monotonic() - started)
        refusals.append(refused.value)

    waiter = threading.Thread(target=queued)
    waiter.start()
    deadline = time.monotonic() + 5
    while gate.waiting == 0 and time.monotonic() < deadline:
        time.sleep(0.005)
    with gate._condition:  # the running answer turns out slow: 10 s per answer now
        gate.service_time = 10.0
        gate._condition.notify_all()
    waiter.join(timeout=5)
    assert outcome and outcome[0] < 1.0  # not the 5 s max_wait
    # It says why it gave up (the measured time ahead), not that its wait ran out.
    assert "need about 10 s" in str(refusals[0]) and "no slot within" not in str(refusals[0])
    assert refusals[0].retry_after == pytest.approx(10.0)
    release()


def test_a_queued_request_whose_wait_runs_out_says_so():
    gate = GenerationGate("m", slots=1, depth=10, max_wait=0.2)
    release = gate.enter(Cancellation())  # the first answer is not timed: no early give-up
    with pytest.raises(Overloaded, match=r"no slot within 0\.2 s"):
        gate.enter(Cancellation())
    assert gate.waiting == 0
    release()
