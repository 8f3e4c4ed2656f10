"""The headless browser's only way out: a forwarding proxy on 127.0.0.1 that Chromium sends every
request through (the page, each redirect hop, images, scripts, ``fetch``/XHR, WebSockets), which
applies the crawler's one network policy
(:func:`~llm_twin.application.crawlers.links.check_host_allowed`) to each request and connects to
the address that was checked.

Why a proxy rather than DevTools request interception (CDP ``Fetch.requestPaused`` or WebDriver
BiDi ``network.addIntercept``): an interceptor sees a URL and then lets Chromium resolve the
host again by itself, so a name that answers "public" to the check and "private" to the
browser (DNS rebinding) gets through; the proxy owns the connection, so the checked address is
the one connected to. It needs no DevTools protocol version matching the browser's, no event
loop in the crawler, and it also sees what a page-level interceptor can miss (service workers,
preconnects, requests made after the crawler stopped listening). Chromium is started with
``--proxy-server`` and ``--proxy-bypass-list=<-loopback>`` (otherwise loopback addresses would
skip the proxy) and with host resolution switched off, so it cannot reach anything directly.

HTTPS and WebSockets pass as ``CONNECT`` tunnels: TLS stays end to end between the browser and
the site (the proxy sees the host and port, never the content). Plain HTTP is forwarded one
request per connection (``Connection: close`` both ways, so a kept-alive connection can never
carry a second request to another host past the check). A refused request gets ``403`` (or a
refused tunnel) and is recorded; the browser crawlers fail the link when its page made one.
"""

import contextlib
import selectors
import socket
import socketserver
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

from loguru import logger

from llm_twin.application.crawlers import links
from llm_twin.application.crawlers.base import CrawlError

#: Largest request or response head accepted (request line/status line plus headers).
MAX_HEAD_BYTES = 65536
#: An idle HTTPS tunnel is closed after this many seconds (the browser opens a new one).
TUNNEL_IDLE_S = 60.0
#: Hop-by-hop headers never passed on (RFC 9110, 7.6.1) plus the proxy's own.
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"proxy-connection",
        b"keep-alive",
        b"proxy-authorization",
        b"proxy-authenticate",
        b"te",
        b"trailer",
        b"upgrade",
    }
)


@dataclass(frozen=True)
class Refusal:
    """A request the policy refused.

    Attributes:
        url: What the browser asked for (``https://host:port`` for a tunnel), credentials
            removed.
        reason: The policy's message.
    """

    url: str
    reason: str


class _BadRequest(Exception):
    """The client sent something that is not a proxy request we forward."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class EgressProxy:
    """A running policy proxy for one browser; :meth:`close` stops it.

    Args:
        allow_private: Let requests reach loopback and private addresses
            (``CRAWL_ALLOW_PRIVATE_NETWORKS``).
        timeout_s: Connect and read timeout towards sites (``CRAWL_TIMEOUT_S``).
    """

    def __init__(self, allow_private: bool, timeout_s: float) -> None:
        self.allow_private = allow_private
        self.timeout_s = timeout_s
        self._refused: list[Refusal] = []
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.proxy = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="egress-proxy", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``: the value of Chromium's ``--proxy-server``."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def take_refusals(self) -> list[Refusal]:
        """The requests refused since the last call (oldest first), forgetting them."""
        with self._lock:
            refused, self._refused = self._refused, []
        return refused

    def close(self) -> None:
        """Stop accepting and cut every open connection."""
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            sockets, self._sockets = list(self._sockets), set()
        for sock in sockets:
            _close(sock)

    # -- used by the handler ------------------------------------------------------------------
    def checked_address(self, url: str) -> str:
        """The address to connect to for ``url`` after the policy check.

        Raises:
            CrawlError: ``private_network`` (recorded as a refusal) or ``connection_error``.
        """
        try:
            return links.check_host_allowed(url, self.allow_private)
        except CrawlError as error:
            if error.reason == "private_network":
                refusal = Refusal(links.strip_credentials(url), str(error))
                with self._lock:
                    self._refused.append(refusal)
                logger.warning("browser request refused: {} ({})", refusal.url, refusal.reason)
            raise

    def track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def untrack(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)
        _close(sock)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    proxy: EgressProxy


class _Handler(socketserver.BaseRequestHandler):
    """One client connection: one CONNECT tunnel or one forwarded HTTP request."""

    server: _Server

    def handle(self) -> None:
        proxy = self.server.proxy
        client: socket.socket = self.request
        proxy.track(client)
        client.settimeout(proxy.timeout_s)
        try:
            head, rest = _read_head(client)
            method, target, header_lines = _parse_request(head)
            if method == "CONNECT":
                self._tunnel(target, rest)
            else:
                self._forward(method, target, header_lines, rest)
        except _BadRequest as error:
            _answer(client, error.status, str(error))
        except CrawlError as error:
            status = 403 if error.reason == "private_network" else 502
            _answer(client, status, str(error))
        except OSError as error:
            logger.debug("egress proxy connection ended: {}", error)
        finally:
            proxy.untrack(client)

    def _connect(self, address: str, port: int) -> socket.socket:
        proxy = self.server.proxy
        try:
            upstream = socket.create_connection((address, port), timeout=proxy.timeout_s)
        except OSError as error:
            message = f"cannot connect to {address} port {port}: {error}"
            raise CrawlError("connection_error", message) from None
        proxy.track(upstream)
        return upstream

    def _tunnel(self, target: str, rest: bytes) -> None:
        """``CONNECT host:port``: check, connect to the checked address, then relay bytes."""
        parts = urlsplit(f"//{target}")
        try:
            port = parts.port
        except ValueError:
            port = None
        if not parts.hostname or port is None:
            raise _BadRequest(400, f"CONNECT needs host:port, got {target!r}")
        address = self.server.proxy.checked_address(f"https://{target}/")
        upstream = self._connect(address, port)
        try:
            self.request.sendall(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            if rest:
                upstream.sendall(rest)
            _relay(self.request, upstream, TUNNEL_IDLE_S)
        finally:
            self.server.proxy.untrack(upstream)

    def _forward(self, method: str, target: str, header_lines: list[bytes], rest: bytes) -> None:
        """An absolute-form ``http://`` request: check, send it in origin form to the checked
        address with ``Connection: close``, stream the answer back and close."""
        parts = urlsplit(target)
        if parts.scheme != "http" or not parts.hostname:
            raise _BadRequest(400, f"only absolute http:// URLs are proxied, got {target!r}")
        headers = [line for line in header_lines if _name(line) not in HOP_BY_HOP]
        if any(_name(line) == b"transfer-encoding" for line in headers):
            raise _BadRequest(411, "chunked request bodies are not proxied")
        length = max((_int_value(line) for line in headers if _name(line) == b"content-length"),
                     default=0)  # fmt: skip
        address = self.server.proxy.checked_address(target)
        upstream = self._connect(address, parts.port or 80)
        try:
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            request_line = f"{method} {path} HTTP/1.1".encode("latin-1")
            upstream.sendall(b"\r\n".join([request_line, *headers, b"Connection: close", b"", b""]))
            body = rest[:length]
            upstream.sendall(body)
            _copy_exactly(self.request, upstream, length - len(body))
            head, after = _read_head(upstream)
            status_line, *response_headers = head.split(b"\r\n")
            kept = [line for line in response_headers if _name(line) not in HOP_BY_HOP]
            self.request.sendall(
                b"\r\n".join([status_line, *kept, b"Connection: close", b"", b""]) + after
            )
            while chunk := upstream.recv(65536):
                self.request.sendall(chunk)
        finally:
            self.server.proxy.untrack(upstream)


def _read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    """The head (up to the blank line, excluded) and whatever was read after it."""
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        if len(buffer) > MAX_HEAD_BYTES:
            raise _BadRequest(431, "head of the request or answer too large")
        chunk = sock.recv(65536)
        if not chunk:
            raise OSError("connection closed before the end of the head")
        buffer += chunk
    head, _, rest = buffer.partition(b"\r\n\r\n")
    return head, rest


def _parse_request(head: bytes) -> tuple[str, str, list[bytes]]:
    request_line, *header_lines = head.split(b"\r\n")
    fields = request_line.decode("latin-1").split()
    if len(fields) != 3 or not fields[2].startswith("HTTP/"):
        raise _BadRequest(400, "malformed request line")
    return fields[0].upper(), fields[1], header_lines


def _name(line: bytes) -> bytes:
    return line.split(b":", 1)[0].strip().lower()


def _int_value(line: bytes) -> int:
    try:
        return max(0, int(line.split(b":", 1)[1].strip()))
    except (IndexError, ValueError):
        raise _BadRequest(400, "invalid Content-Length") from None


def _copy_exactly(source: socket.socket, target: socket.socket, count: int) -> None:
    while count > 0:
        chunk = source.recv(min(65536, count))
        if not chunk:
            raise OSError("client closed before the end of the request body")
        target.sendall(chunk)
        count -= len(chunk)


def _relay(first: socket.socket, second: socket.socket, idle_s: float) -> None:
    """Copy bytes both ways until one side closes or nothing moves for ``idle_s``."""
    with selectors.DefaultSelector() as selector:
        selector.register(first, selectors.EVENT_READ, second)
        selector.register(second, selectors.EVENT_READ, first)
        while True:
            events = selector.select(idle_s)
            if not events:
                return
            for key, _ in events:
                data = key.fileobj.recv(65536)  # type: ignore[union-attr]
                if not data:
                    return
                key.data.sendall(data)


def _answer(client: socket.socket, status: int, message: str) -> None:
    """A short plain-text answer from the proxy itself (refusals, bad requests)."""
    reasons = {400: "Bad Request", 403: "Forbidden", 411: "Length Required",
               431: "Request Header Fields Too Large", 502: "Bad Gateway"}  # fmt: skip
    body = f"llm-twin crawler egress policy: {message}\n".encode()
    head = (
        f"HTTP/1.1 {status} {reasons.get(status, 'Error')}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    with contextlib.suppress(OSError):  # the browser may have given up on this request
        client.sendall(head.encode("latin-1") + body)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed, or never connected
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
