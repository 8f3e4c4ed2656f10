"""Serve the crawler fixture site (``tests/fixtures/sites``) on 127.0.0.1.

    python -m tools.fixture_site --port 8765        # or: poe serve-crawler-fixtures

The site imitates what the crawlers meet on the web, so ``poe run-digital-data-etl`` can be
tried without internet (``configs/digital_data_etl_offline_demo.yaml``) and the tests can use
real HTTP and a real browser:

- ``/substack/p/…``, ``/blog/…``, ``/notes/…``: static articles with navigation, subscribe
  boxes, comment threads and footers around the body;
- ``/medium/…``: a Medium-like story whose body is rendered by JavaScript from ``/medium/api``;
- ``/login`` + ``/in/<user>/recent-activity/all/``: a LinkedIn-like login and an activity feed
  that loads more posts as the reader scrolls (the feed needs the session cookie of a login
  with :data:`FIXTURE_LINKEDIN_USERNAME` / :data:`FIXTURE_LINKEDIN_PASSWORD`);
- ``/git/<name>.git``: git repositories (smart HTTP through ``git http-backend``) built at
  start from the folders in ``git/`` plus a binary and a generated file the crawler must skip;
- ``/flaky/…``: the first request for each path answers 503, later ones serve
  ``/substack/p/<name>`` (exercises retries);
- ``/slow/…``: answers only after ``slow_seconds`` (a page that times out);
- ``/private/…``: disallowed by the site's ``robots.txt``; any unknown path: 404;
- discovery fixtures, one root URL each: ``/janeblog/`` (sitemap index with a gzip sitemap,
  RSS feed, paginated archive, tag/about pages), ``/substack/`` (a Substack-like archive API
  ``/substack/api/v1/archive?offset=&limit=`` and a short feed), ``/medium/jane-doe/`` (a
  profile with its feed) and ``/gh/jane-doe`` with a GitHub-like API under ``/gh-api/``
  (:data:`API_PAGE_SIZE` repositories per page, ``Link: rel="next"``, a fork).

Files may contain ``{{BASE}}``, replaced by the site's base URL when served (sitemaps and
feeds need absolute URLs); ``X.gz`` is served gzip-compressed from ``X`` when only ``X`` exists.
"""

import gzip
import http.server
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Annotated, ClassVar
from urllib.parse import parse_qs, urlsplit

import typer

SITE_ROOT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "sites"
#: The credentials the fixture LinkedIn login accepts (not secrets: a local test site).
FIXTURE_LINKEDIN_USERNAME = "jane.doe@example.com"
FIXTURE_LINKEDIN_PASSWORD = "fixture-password"
SESSION_COOKIE = "li_at=fixture-session"
#: Fixed dates make the fixture repositories' commit ids the same on every machine.
_GIT_DATE = "2024-05-01T12:00:00+00:00"
#: Items per page of the GitHub-like API (GitHub's own maximum is 100; small to paginate).
API_PAGE_SIZE = 2
BASE_PLACEHOLDER = b"{{BASE}}"
_CONTENT_TYPES = {
    ".xml": "application/xml",
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    "": "text/html; charset=utf-8",
}


def build_git_repositories(target: Path) -> Path:
    """Create a bare repository ``target/<name>.git`` for each folder in ``SITE_ROOT/git``.

    Each gets two extra files the GitHub crawler must skip: ``assets/logo.png`` and the binary
    ``bin/tool`` (NUL bytes, no extension). Returns ``target``.
    """
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Jane Doe",
        "GIT_AUTHOR_EMAIL": "jane.doe@example.com",
        "GIT_COMMITTER_NAME": "Jane Doe",
        "GIT_COMMITTER_EMAIL": "jane.doe@example.com",
        "GIT_AUTHOR_DATE": _GIT_DATE,
        "GIT_COMMITTER_DATE": _GIT_DATE,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    for source in sorted((SITE_ROOT / "git").iterdir()):
        if not source.is_dir():
            continue
        work = target / f"{source.name}-work"
        shutil.copytree(source, work)
        (work / "assets").mkdir(exist_ok=True)
        (work / "assets" / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
        (work / "bin").mkdir(exist_ok=True)
        (work / "bin" / "tool").write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(64))
        for args in (
            ["init", "-q", "-b", "main"],
            ["add", "-A"],
            ["commit", "-q", "-m", "Initial commit"],
        ):
            subprocess.run(["git", *args], cwd=work, env=env, check=True, capture_output=True)
        subprocess.run(
            ["git", "clone", "-q", "--bare", str(work), str(target / f"{source.name}.git")],
            env=env,
            check=True,
            capture_output=True,
        )
        shutil.rmtree(work)
    return target


class FixtureHandler(http.server.SimpleHTTPRequestHandler):
    """Static files from :data:`SITE_ROOT` plus the few dynamic routes the fixtures need."""

    slow_seconds: float = 30.0
    git_root: Path | None = None
    site_root: Path = SITE_ROOT
    flaky_seen: ClassVar[set[str]] = set()
    flaky_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, directory=str(self.site_root), **kwargs)

    def log_message(self, format: str, *args: object) -> None:
        # Quiet: tests and the demo print their own progress.
        pass

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        self.server.requested.append(self.path)  # type: ignore[attr-defined]
        if path.startswith("/slow/"):
            time.sleep(self.slow_seconds)
            self._send(200, b"<html><body><p>Too late.</p></body></html>")
            return
        if path.startswith("/git/"):
            self._git_backend()
            return
        if path.startswith("/flaky/"):
            with self.flaky_lock:
                first = path not in self.flaky_seen
                self.flaky_seen.add(path)
            if first:
                self._send(503, b"<html><body>Service temporarily unavailable</body></html>")
                return
            self.path = "/substack/p/" + path.removeprefix("/flaky/")
        if path.startswith("/expected/"):
            self._send(404, b"not found")
            return
        if (
            path.startswith("/in/")
            or path.startswith("/feed/")
            or path.startswith("/linkedin-api/")
        ):
            if SESSION_COOKIE not in self.headers.get("Cookie", ""):
                self._redirect("/login")
                return
            if path.startswith("/feed/"):
                self._send(
                    200,
                    b"<html><head><title>Feed | LinkedIn</title></head><body>"
                    b"<main class='feed'>Welcome back</main></body></html>",
                )
                return
        if path == "/login":
            self.path = "/login.html"
        if self._paged_json(path) or self._templated(path):
            return
        super().do_GET()

    def _base_url(self) -> bytes:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}".encode()

    def _templated(self, path: str) -> bool:
        """Serve a file containing ``{{BASE}}`` (or the gzip of ``X`` for a missing ``X.gz``)
        with the placeholder replaced; False when the static handler should serve it."""
        target = Path(self.translate_path(path))
        compress = False
        if target.is_dir():
            if not path.endswith("/"):
                return False  # the static handler redirects to the slash form
            target = target / "index.html"
        if not target.is_file() and target.suffix == ".gz" and target.with_suffix("").is_file():
            target, compress = target.with_suffix(""), True
        if not target.is_file():
            return False
        body = target.read_bytes()
        if BASE_PLACEHOLDER not in body and not compress:
            return False
        body = body.replace(BASE_PLACEHOLDER, self._base_url())
        content_type = _CONTENT_TYPES.get(target.suffix, "application/octet-stream")
        if compress:
            body, content_type = gzip.compress(body, mtime=0), "application/gzip"
        self._send(200, body, content_type)
        return True

    def _paged_json(self, path: str) -> bool:
        """The paginated fixture APIs: ``/gh-api/users/<user>/repos`` (``page``/``per_page``,
        at most :data:`API_PAGE_SIZE`, ``Link`` header) and ``…/api/v1/archive``
        (``offset``/``limit``), sliced from ``<path>.json``."""
        github = path.startswith("/gh-api/")
        if not (github or path.endswith("/api/v1/archive")):
            return False
        source = Path(self.translate_path(path.rstrip("/") + ".json"))
        if not source.is_file():
            self._send(404, b'{"message": "Not Found"}', "application/json")
            return True
        items = json.loads(source.read_bytes().replace(BASE_PLACEHOLDER, self._base_url()))
        query = parse_qs(urlsplit(self.path).query)
        headers = []
        if github:
            size = min(int(query.get("per_page", ["30"])[0]), API_PAGE_SIZE)
            number = int(query.get("page", ["1"])[0])
            start = (number - 1) * size
            if start + size < len(items):
                next_url = f"{self._base_url().decode()}{path}?per_page={size}&page={number + 1}"
                headers.append(("Link", f'<{next_url}>; rel="next"'))
        else:
            size = int(query.get("limit", ["12"])[0])
            start = int(query.get("offset", ["0"])[0])
        body = json.dumps(items[start : start + size]).encode()
        self._send(200, body, "application/json", headers)
        return True

    def do_POST(self) -> None:
        if urlsplit(self.path).path.startswith("/git/"):
            self._git_backend()
            return
        if urlsplit(self.path).path != "/checkpoint/lg/login-submit":
            self._send(404, b"not found")
            return
        length = int(self.headers.get("Content-Length", "0") or 0)
        form = parse_qs(self.rfile.read(length).decode("utf-8"))
        username = form.get("session_key", [""])[0]
        password = form.get("session_password", [""])[0]
        if username == FIXTURE_LINKEDIN_USERNAME and password == FIXTURE_LINKEDIN_PASSWORD:
            self.send_response(302)
            self.send_header("Set-Cookie", f"{SESSION_COOKIE}; Path=/; HttpOnly")
            self.send_header("Location", "/feed/")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self._redirect("/login?error=1")

    def _git_backend(self) -> None:
        """Answer a git smart-HTTP request with ``git http-backend`` (CGI)."""
        if self.git_root is None:
            self._send(404, b"no git repositories")
            return
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length", "0") or 0)
        body = self.rfile.read(length) if length else b""
        env = {
            **os.environ,
            "GIT_PROJECT_ROOT": str(self.git_root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": parts.path.removeprefix("/git"),
            "QUERY_STRING": parts.query,
            "REQUEST_METHOD": self.command,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": self.client_address[0],
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
        }
        result = subprocess.run(
            ["git", "http-backend"], input=body, env=env, capture_output=True, check=False
        )
        head, _, payload = result.stdout.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.strip().split()[0])
            elif name:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str = "text/html; charset=utf-8",
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            for name, value in headers or []:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (the timeout fixture): nothing left to answer.
            pass


class FixtureSite:
    """The fixture site on a background thread.

    Args:
        port: TCP port on 127.0.0.1; 0 picks a free one.
        slow_seconds: How long ``/slow/…`` pages take to answer.
        root: Folder to serve (default :data:`SITE_ROOT`; tests serve an edited copy).
    """

    def __init__(self, port: int = 0, slow_seconds: float = 30.0, root: Path = SITE_ROOT) -> None:
        self._git_dir = tempfile.mkdtemp(prefix="llm-twin-fixture-git-")
        git_root = build_git_repositories(Path(self._git_dir))
        handler = type(
            "Handler",
            (FixtureHandler,),
            {
                "slow_seconds": slow_seconds,
                "git_root": git_root,
                "site_root": Path(root),
                "flaky_seen": set(),
            },
        )
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.server.daemon_threads = True
        #: Every GET path (with query) the site answered, in order (tests count fetches).
        self.server.requested = []  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    @property
    def requested(self) -> list[str]:
        """Every GET path (with its query) the site was asked for, in order."""
        return self.server.requested  # type: ignore[attr-defined]

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        """Absolute URL of ``path`` on the site."""
        return f"{self.base_url}/{path.lstrip('/')}"

    def start(self) -> "FixtureSite":
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.close()

    def close(self) -> None:
        """Release the socket and the built git repositories."""
        self.server.server_close()
        shutil.rmtree(self._git_dir, ignore_errors=True)

    def __enter__(self) -> "FixtureSite":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1")] = 8765,
    slow_seconds: Annotated[float, typer.Option(help="Delay of /slow/ pages")] = 30.0,
) -> None:
    """Serve the crawler fixture site until Ctrl+C."""
    site = FixtureSite(port, slow_seconds)
    print(f"Serving {SITE_ROOT} at {site.base_url} (Ctrl+C to stop)", flush=True)
    print(
        f"LinkedIn-like login: {FIXTURE_LINKEDIN_USERNAME} / {FIXTURE_LINKEDIN_PASSWORD}",
        flush=True,
    )
    try:
        site.server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        site.close()


if __name__ == "__main__":
    typer.run(main)
