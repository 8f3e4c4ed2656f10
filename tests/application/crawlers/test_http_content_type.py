"""Issue 18, finding 7: pages (and robots.txt) served without a Content-Type, or as
``application/xhtml+xml`` without a charset, are fetched, not crashed on."""

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from llm_twin.application.crawlers.http import HttpFetcher
from tests.application.crawlers.conftest import make_settings

BODY = "<html><body><p>Caf\u00e9 na\u00efve \u2014 r\u00e9sum\u00e9</p></body></html>".encode()
TYPES = {"/bare": None, "/xhtml": "application/xhtml+xml", "/robots.txt": None}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"User-agent: *\nDisallow: /private\n" if self.path == "/robots.txt" else BODY
        self.send_response(200)
        if TYPES.get(self.path):
            self.send_header("Content-Type", TYPES[self.path])
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def origin() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.parametrize("path", ["/bare", "/xhtml"])
def test_page_without_charset_is_fetched_and_decoded(origin, path) -> None:
    fetcher = HttpFetcher(make_settings(CRAWL_RESPECT_ROBOTS=True))
    page = fetcher.get(origin + path)
    assert page.status == 200 and "Caf\u00e9 na\u00efve" in page.text


def test_robots_without_content_type_is_applied(origin) -> None:
    from llm_twin.application.crawlers.base import CrawlError

    fetcher = HttpFetcher(make_settings(CRAWL_RESPECT_ROBOTS=True))
    with pytest.raises(CrawlError) as refused:
        fetcher.get(origin + "/private")
    assert refused.value.reason == "robots_disallowed"
