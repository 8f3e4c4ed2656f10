"""Issue 18, finding 2: one egress policy for the HTTP fetcher and git; the connection goes to
the address that was checked (no second DNS resolution) and git follows no redirect.

127.0.0.1 plays a public host and 127.0.0.2 a private one: a test-only policy treats only
127.0.0.2 as non-public."""

import socket
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from llm_twin.application.crawlers import links
from llm_twin.application.crawlers.base import CrawlError
from tests.application.crawlers.conftest import make_settings

PRIVATE = "127.0.0.2"


@pytest.fixture
def policy(monkeypatch) -> None:
    """127.0.0.2 is private, every other address public (127.0.0.1 plays a public host)."""
    monkeypatch.setattr(links, "is_public_address", lambda address: address != PRIVATE)


def _serve(host: str, handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, 0), handler)
    server.hits = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class _Recorder(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.server.hits.append(self.path)  # type: ignore[attr-defined]
        body = b"<html><body><p>inside</p></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def private_server() -> Iterator[ThreadingHTTPServer]:
    try:
        server = _serve(PRIVATE, _Recorder)
    except OSError:
        pytest.skip("127.0.0.2 is not available")
    yield server
    server.shutdown()


@pytest.fixture
def public_server() -> Iterator[ThreadingHTTPServer]:
    server = _serve("127.0.0.1", _Recorder)
    yield server
    server.shutdown()


def _settings():
    return make_settings(CRAWL_ALLOW_PRIVATE_NETWORKS=False, CRAWL_RESPECT_ROBOTS=False)


def test_dns_rebinding_cannot_reach_the_private_host(policy, public_server, monkeypatch) -> None:
    """The name answers 'public' to the check and 'private' afterwards: the fetch still goes
    to the checked (public) address."""
    from llm_twin.application.crawlers.http import HttpFetcher

    port = public_server.server_address[1]
    answers = iter(["127.0.0.1"] + [PRIVATE] * 20)
    real = socket.getaddrinfo

    def rebinding(host, *args, **kwargs):
        if host == "rebind.test":
            address = next(answers)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, args[0] or 80))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    # The private host listens on the same port, so a second resolution would reach it.
    try:
        twin = ThreadingHTTPServer((PRIVATE, port), _Recorder)
    except OSError:
        pytest.skip("port taken on 127.0.0.2")
    twin.hits = []  # type: ignore[attr-defined]
    threading.Thread(target=twin.serve_forever, daemon=True).start()
    try:
        page = HttpFetcher(_settings()).get(f"http://rebind.test:{port}/article")
    finally:
        twin.shutdown()
    assert page.status == 200
    assert public_server.hits == ["/article"]
    assert twin.hits == []


def test_fetcher_refuses_a_redirect_to_the_private_host(policy, private_server) -> None:
    from llm_twin.application.crawlers.http import HttpFetcher

    target = f"http://{PRIVATE}:{private_server.server_address[1]}/secret"

    class _Redirect(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    redirector = _serve("127.0.0.1", _Redirect)
    try:
        with pytest.raises(CrawlError) as refused:
            HttpFetcher(_settings()).get(f"http://127.0.0.1:{redirector.server_address[1]}/")
    finally:
        redirector.shutdown()
    assert refused.value.reason == "private_network"
    assert private_server.hits == []


def test_git_clone_does_not_follow_a_redirect_to_the_private_host(
    policy, private_server, author
) -> None:
    from llm_twin.application.crawlers.github import GithubCrawler

    private_port = private_server.server_address[1]

    class _GitRedirect(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", f"http://{PRIVATE}:{private_port}{self.path}")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    redirector = _serve("127.0.0.1", _GitRedirect)
    link = f"http://127.0.0.1:{redirector.server_address[1]}/team/repo.git"
    try:
        with pytest.raises(CrawlError):
            GithubCrawler(_settings()).crawl(link, author)
    finally:
        redirector.shutdown()
    assert private_server.hits == []


def test_git_options_pin_the_checked_address() -> None:
    from llm_twin.application.crawlers.github import _resolve_pin

    assert _resolve_pin("https://git.example/r.git", "203.0.113.9") == [
        "-c",
        "http.curloptResolve=git.example:443:203.0.113.9",
    ]
    assert subprocess.run(["git", "--version"], capture_output=True).returncode == 0
