"""Issue 18, finding 2 (browser path): every request headless Chromium makes goes through the
egress proxy, which applies the crawler's network policy and connects to the address it
checked. A redirect, an ``<img>``, a ``fetch()`` or an https tunnel towards the private host
never reaches it, and the crawl of such a page fails with ``private_network``.

127.0.0.1 plays a public host and 127.0.0.2 a private one (a test-only policy, as in
``test_egress_policy.py``); the private server counts TCP connections, not only requests."""

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from llm_twin.application.crawlers import links
from llm_twin.application.crawlers.base import CrawlError
from llm_twin.application.crawlers.browser import BrowserPool
from llm_twin.application.crawlers.discovery.scrolled import scrolled_links
from llm_twin.application.crawlers.egress_proxy import EgressProxy
from llm_twin.application.crawlers.http import HttpFetcher
from llm_twin.application.crawlers.medium import MediumCrawler
from tests.application.crawlers.conftest import make_settings

PRIVATE = "127.0.0.2"
BODY = (
    "<h1>A story</h1><p>Budgets turn an agent demo into a product people can pay for. "
    "Every loop needs a limit on tokens, time and tool calls, or it becomes a credit card "
    "bill that nobody reads until the end of the month.</p>"
)


class _Counting(ThreadingHTTPServer):
    """Counts accepted connections (a TLS handshake or a bare connect counts too)."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self.connections = 0
        self.hits: list[str] = []

    def process_request(self, request: socket.socket, client_address: object) -> None:
        self.connections += 1
        super().process_request(request, client_address)


class _Private(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.server.hits.append(self.path)  # type: ignore[attr-defined]
        body = b"secret"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _public_handler(private: str) -> type[BaseHTTPRequestHandler]:
    """Pages of the "public" site; ``private`` is the private server's ``host:port``."""
    pages = {
        "/story": f"<article>{BODY}<img src='/pixel.png'></article>",
        "/img": f"<article>{BODY}<img src='http://{private}/pixel.png'></article>",
        # The story appears only once the fetch has settled (refused: it must never succeed).
        "/fetch": (
            f"<main></main><script>fetch('http://{private}/api').catch(() => null)"
            f".finally(() => document.querySelector('main').innerHTML = "
            f"'<article>{BODY}</article>')</script>"
        ),
        "/tls": f"<article>{BODY}<img src='https://{private}/pixel.png'></article>",
        "/named": f"<article>{BODY}<img src='http://inside.test:{private.split(':')[1]}/a.png'>"
        "</article>",
        "/profile": (
            f"<main><a href='/p/one-1234abcd'>one</a></main>"
            f"<script>fetch('http://{private}/profile-api').catch(() => null)</script>"
        ),
    }

    class _Public(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.server.hits.append(self.path)  # type: ignore[attr-defined]
            if self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", f"http://{private}/secret")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if self.path == "/pixel.png":
                body, kind = b"\x89PNG\r\n\x1a\n", "image/png"
            elif self.path in pages:
                body = f"<html><body>{pages[self.path]}</body></html>".encode()
                kind = "text/html; charset=utf-8"
            else:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return _Public


def _serve(host: str, handler: type[BaseHTTPRequestHandler]) -> _Counting:
    server = _Counting((host, 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def policy(monkeypatch) -> None:
    """127.0.0.2 is private, every other address public (127.0.0.1 plays a public host)."""
    monkeypatch.setattr(links, "is_public_address", lambda address: address != PRIVATE)


@pytest.fixture
def servers() -> Iterator[tuple[_Counting, _Counting]]:
    """(public site on 127.0.0.1, private server on 127.0.0.2)."""
    try:
        private = _serve(PRIVATE, _Private)
    except OSError:
        pytest.skip("127.0.0.2 is not available")
    public = _serve("127.0.0.1", _public_handler(f"{PRIVATE}:{private.server_address[1]}"))
    yield public, private
    public.shutdown()
    private.shutdown()


@pytest.fixture(scope="module")
def crawl_settings():
    return make_settings(
        CRAWL_ALLOW_PRIVATE_NETWORKS=False, CRAWL_RESPECT_ROBOTS=False, CRAWL_TIMEOUT_S=6.0
    )


@pytest.fixture(scope="module")
def browsers(crawl_settings) -> Iterator[BrowserPool]:
    """One Chromium for the module (each test opens its own pages)."""
    pool = BrowserPool(crawl_settings)
    yield pool
    pool.close()


def _medium(settings, browsers: BrowserPool) -> MediumCrawler:
    return MediumCrawler(settings, HttpFetcher(settings), browsers)


@pytest.mark.usefixtures("chromium", "policy")
def test_allowed_page_and_its_images_load_through_the_proxy(
    servers, crawl_settings, browsers, author
) -> None:
    public, private = servers
    url = f"http://127.0.0.1:{public.server_address[1]}/story"
    (document,) = _medium(crawl_settings, browsers).crawl(url, author)
    assert "Budgets turn an agent demo" in document.content["Content"]
    assert "/pixel.png" in public.hits  # sub-resources are forwarded, not only the page
    assert private.connections == 0


@pytest.mark.usefixtures("chromium", "policy")
@pytest.mark.parametrize("path", ["/redirect", "/img", "/fetch", "/tls"])
def test_page_reaching_the_private_host_fails_and_never_gets_there(
    path, servers, crawl_settings, browsers, author
) -> None:
    public, private = servers
    url = f"http://127.0.0.1:{public.server_address[1]}{path}"
    with pytest.raises(CrawlError) as refused:
        _medium(crawl_settings, browsers).crawl(url, author)
    assert refused.value.reason == "private_network"
    assert f"{url} made the browser request non-public addresses" in str(refused.value)
    assert PRIVATE in str(refused.value)
    assert private.connections == 0 and private.hits == []


@pytest.mark.usefixtures("chromium", "policy")
def test_scrolled_profile_reaching_the_private_host_is_refused(
    servers, crawl_settings, browsers
) -> None:
    public, private = servers
    url = f"http://127.0.0.1:{public.server_address[1]}/profile"
    with pytest.raises(CrawlError) as refused:
        scrolled_links(url, HttpFetcher(crawl_settings), browsers, max_scrolls=1)
    assert refused.value.reason == "private_network"
    assert private.connections == 0


@pytest.mark.usefixtures("chromium", "policy")
def test_host_names_are_resolved_by_the_proxy(
    servers, crawl_settings, browsers, author, monkeypatch
) -> None:
    """Chromium resolves no name itself (``public.test`` exists only for the proxy's resolver
    here, so the page loads only if the name reached the proxy as a name): the proxy's one
    resolution is checked and connected to, and a name pointing inside is refused."""
    public, private = servers
    real = socket.getaddrinfo
    answers = {"public.test": "127.0.0.1", "inside.test": PRIVATE}

    def resolve(host, *args, **kwargs):
        if host in answers:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], args[0] or 80))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    crawler = _medium(crawl_settings, browsers)
    site = f"http://public.test:{public.server_address[1]}"
    (document,) = crawler.crawl(f"{site}/story", author)
    assert document.link == f"{site}/story"
    assert "/pixel.png" in public.hits
    with pytest.raises(CrawlError) as refused:
        crawler.crawl(f"{site}/named", author)
    assert refused.value.reason == "private_network"
    assert "inside.test" in str(refused.value)
    assert private.connections == 0


def test_proxy_refuses_a_private_tunnel_and_forwards_a_public_request(policy, servers) -> None:
    """The proxy alone, spoken to as a browser would: ``CONNECT`` to the private host gets 403
    and is recorded; a public ``GET`` is forwarded with ``Connection: close``."""
    public, private = servers
    proxy = EgressProxy(allow_private=False, timeout_s=5.0)
    port = int(proxy.url.rsplit(":", 1)[1])
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            target = f"{PRIVATE}:{private.server_address[1]}"
            client.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
            answer = client.recv(65536)
        assert answer.startswith(b"HTTP/1.1 403")
        (refusal,) = proxy.take_refusals()
        assert refusal.url == f"https://{target}/"
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            origin = f"127.0.0.1:{public.server_address[1]}"
            client.sendall(
                f"GET http://{origin}/story HTTP/1.1\r\nHost: {origin}\r\n"
                "Proxy-Connection: keep-alive\r\n\r\n".encode()
            )
            received = b""
            while chunk := client.recv(65536):
                received += chunk
        head, _, body = received.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.0 200") or head.startswith(b"HTTP/1.1 200")
        assert b"Connection: close" in head and b"Budgets turn" in body
        assert proxy.take_refusals() == []
    finally:
        proxy.close()
    assert public.hits == ["/story"] and private.connections == 0
