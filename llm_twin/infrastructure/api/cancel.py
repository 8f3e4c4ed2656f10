"""Blocking use-case calls that stop when their client disconnects: the call runs in the thread
pool while the event loop watches the connection and cancels the request when it closes."""

import asyncio
from collections.abc import Callable
from typing import TypeVar

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from llm_twin.application.inference.admission import Cancellation

Result = TypeVar("Result")

#: How often the connection is checked while a call runs (s).
POLL_INTERVAL = 0.25


async def run_cancellable(
    request: Request, cancellation: Cancellation, call: Callable[[], Result]
) -> Result:
    """``call()`` in the thread pool; ``cancellation`` fires if the client disconnects first.

    Args:
        request: The HTTP request (its connection is watched).
        cancellation: The request's cancellation (``call`` must honour it).
        call: The blocking call.

    Returns:
        What ``call`` returned (it raises ``RequestCancelled`` when cancelled).
    """
    task = asyncio.ensure_future(run_in_threadpool(call))
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=POLL_INTERVAL)
            if not task.done() and await request.is_disconnected():
                cancellation.cancel("client disconnected")
    except asyncio.CancelledError:
        # The server is cancelling this request (the client went away).
        cancellation.cancel("client disconnected")
        raise
    return task.result()
