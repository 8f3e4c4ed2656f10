"""The request-body size limit, enforced before anything parses the body: a declared
``Content-Length`` over the limit is refused at once, and a body streamed without one is
counted as it arrives and refused as soon as it passes the limit."""

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodySizeLimit:
    """ASGI middleware answering 413 (the API's JSON error shape) to bodies over ``max_bytes``.

    Args:
        app: The wrapped application.
        max_bytes: The largest accepted body.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(send)
            return
        received = 0

        async def counting_receive() -> Message:
            # Raised while the body is read: the app's error handlers answer 413.
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413, self._message())
            return message

        await self.app(scope, counting_receive, send)

    def _message(self) -> str:
        return f"request body larger than {self.max_bytes} bytes (API_MAX_BODY_BYTES)"

    async def _refuse(self, send: Send) -> None:
        message = self._message()
        body = json.dumps(
            {"error": {"message": message, "type": "RequestTooLarge", "code": 413}}
        ).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
