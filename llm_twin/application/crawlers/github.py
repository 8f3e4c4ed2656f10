"""Code repositories (GitHub or any git host): shallow clone, keep the source files as they are.

The clone goes to a temporary folder (removed afterwards) and git runs with ``cwd=``: the
process's working directory never changes. Binaries, vendored or generated folders, lockfiles,
images and files over ``GITHUB_MAX_FILE_BYTES`` are skipped; kept files are stored byte-exact
(decoded as UTF-8), whitespace included.
"""

import os
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import ClassVar
from urllib.parse import urlsplit, urlunsplit

from loguru import logger

from llm_twin.application.crawlers.base import Author, Crawler, CrawlError, utc_now
from llm_twin.application.crawlers.links import check_host_allowed
from llm_twin.domain.documents import RepositoryDocument
from llm_twin.domain.types import DataCategory
from llm_twin.settings import Settings

SKIP_DIRS = frozenset(
    {
        ".git", ".hg", ".svn", "node_modules", "bower_components", "vendor", "third_party",
        "__pycache__", ".venv", "venv", "env", ".tox", ".nox", ".mypy_cache", ".pytest_cache",
        ".ruff_cache", ".idea", ".vscode", "dist", "build", "target", ".next", ".nuxt",
        "site-packages", ".gradle", ".terraform", "coverage", "htmlcov", ".ipynb_checkpoints",
    }
)  # fmt: skip
SKIP_FILES = frozenset(
    {
        "package-lock.json", "yarn.lock", "pnpm-lock.yaml", "poetry.lock", "Pipfile.lock",
        "uv.lock", "Cargo.lock", "composer.lock", "Gemfile.lock", "go.sum", "mix.lock",
        "pubspec.lock", "packages.lock.json", ".DS_Store",
    }
)  # fmt: skip
SKIP_SUFFIXES = frozenset(
    {
        # images, media, fonts
        ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".ico", ".webp", ".svg", ".tif", ".tiff",
        ".mp3", ".mp4", ".wav", ".ogg", ".avi", ".mov", ".webm", ".woff", ".woff2", ".ttf",
        ".otf", ".eot",
        # archives, binaries, data and model files
        ".zip", ".tar", ".gz", ".bz2", ".xz", ".7z", ".rar", ".jar", ".war", ".whl", ".egg",
        ".so", ".dylib", ".dll", ".exe", ".bin", ".o", ".a", ".pyc", ".pyo", ".class",
        ".pdf", ".parquet", ".pkl", ".pickle", ".npy", ".npz", ".pt", ".pth", ".onnx",
        ".safetensors", ".gguf", ".h5", ".ckpt", ".db", ".sqlite", ".sqlite3",
        # generated
        ".map", ".lock",
    }
)  # fmt: skip
GENERATED_SUFFIXES = (".min.js", ".min.css")
_GIT_SCHEMES = frozenset({"http", "https", "git"})


class GithubCrawler(Crawler):
    """Collects one repository into a :class:`RepositoryDocument`.

    Args:
        settings: ``GITHUB_MAX_FILE_BYTES``, ``GITHUB_MAX_FILES``, ``GITHUB_CLONE_TIMEOUT_S``
            and the network policy.
    """

    platform: ClassVar[str] = "github"
    category: ClassVar[DataCategory] = DataCategory.REPOSITORIES

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def crawl(self, link: str, author: Author) -> list[RepositoryDocument]:
        clone_url, name = repository_location(link)
        address = check_host_allowed(clone_url, self.settings.crawl.allow_private_networks)
        pins = _resolve_pin(clone_url, address)
        with tempfile.TemporaryDirectory(prefix="llm-twin-repo-") as tmp:
            checkout = Path(tmp) / "repo"
            self._git(
                "clone", "--depth", "1", "--no-tags", "--", clone_url, str(checkout), pins=pins
            )
            commit = self._git("rev-parse", "HEAD", cwd=checkout).strip()
            files, skipped = read_tree(
                checkout,
                self.settings.crawl.github_max_file_bytes,
                self.settings.crawl.github_max_files,
            )
        if not files:
            raise CrawlError("empty_extraction", f"no text files kept from {link} ({skipped})")
        logger.debug("{}: kept {} files, skipped {}", name, len(files), skipped)
        host = urlsplit(clone_url).hostname or ""
        return [
            RepositoryDocument(
                content={"files": files},
                name=name,
                commit=commit,
                platform="github" if host.endswith("github.com") else "git",
                link=link,
                author_id=author.id,
                author_full_name=author.full_name,
                crawled_at=utc_now(),
            )
        ]

    def _git(self, *args: str, cwd: Path | None = None, pins: Sequence[str] = ()) -> str:
        env = {
            **os.environ,
            "GIT_TERMINAL_PROMPT": "0",  # never wait for a password on a private repo
            "GIT_ASKPASS": "true",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_LFS_SKIP_SMUDGE": "1",
        }
        # Only network transports: no file://, ext:: or other helpers via redirects/submodules.
        protocols = ["-c", "protocol.allow=never"] + [
            item
            for scheme in sorted(_GIT_SCHEMES)
            for item in ("-c", f"protocol.{scheme}.allow=always")
        ]
        # The egress policy checked one host and address: no redirect may lead elsewhere, and
        # curl connects to that address (no second DNS answer).
        protocols += ["-c", "http.followRedirects=false", *pins]
        try:
            result = subprocess.run(
                ["git", *protocols, *args],
                cwd=cwd,
                env=env,
                capture_output=True,
                text=True,
                timeout=self.settings.crawl.github_clone_timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise CrawlError(
                "timeout",
                f"git {args[0]} took longer than {self.settings.crawl.github_clone_timeout_s}s",
            ) from None
        except FileNotFoundError:
            raise CrawlError("clone_failed", "git is not installed") from None
        if result.returncode != 0:
            message = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise CrawlError("clone_failed", f"git {args[0]} failed: {message}")
        return result.stdout


def _resolve_pin(url: str, address: str) -> list[str]:
    """git options that make curl connect to the checked ``address`` for ``url``'s host."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return []
    port = parts.port or (443 if parts.scheme == "https" else 80)
    literal = f"[{address}]" if ":" in address else address
    return ["-c", f"http.curloptResolve={parts.hostname}:{port}:{literal}"]


def repository_location(link: str) -> tuple[str, str]:
    """``(clone URL, repository name)`` of a repository link.

    ``https://github.com/owner/name/tree/main/src`` clones ``https://github.com/owner/name.git``
    and is named ``owner/name``; other hosts' links are cloned as given.
    """
    parts = urlsplit(link)
    if parts.scheme not in _GIT_SCHEMES:
        raise CrawlError("unsupported_scheme", f"cannot clone {link!r}: use https or git")
    segments = [segment for segment in parts.path.split("/") if segment]
    if parts.hostname and parts.hostname.endswith("github.com"):
        if len(segments) < 2:
            raise CrawlError("invalid_link", f"{link} is not a repository link (owner/name)")
        owner, repo = segments[0], segments[1].removesuffix(".git")
        path = f"/{owner}/{repo}.git"
        return urlunsplit((parts.scheme, parts.netloc, path, "", "")), f"{owner}/{repo}"
    if not segments:
        raise CrawlError("invalid_link", f"{link} names no repository")
    name = "/".join(segment.removesuffix(".git") for segment in segments[-2:])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, "")), name


def read_tree(
    root: Path, max_file_bytes: int, max_files: int
) -> tuple[dict[str, str], dict[str, int]]:
    """Read every kept file under ``root``.

    Returns:
        ``{relative posix path: text}`` and ``{skip reason: count}`` (reasons: ``ignored``,
        ``too_large``, ``binary``, ``too_many``, ``symlink``).
    """
    files: dict[str, str] = {}
    skipped: dict[str, int] = {}

    def skip(reason: str) -> None:
        skipped[reason] = skipped.get(reason, 0) + 1

    for directory, subdirs, names in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if d not in SKIP_DIRS)
        for name in sorted(names):
            path = Path(directory) / name
            relative = PurePosixPath(path.relative_to(root).as_posix())
            lowered = name.lower()
            if path.is_symlink():
                skip("symlink")
            elif (
                name in SKIP_FILES
                or relative.suffix.lower() in SKIP_SUFFIXES
                or lowered.endswith(GENERATED_SUFFIXES)
            ):
                skip("ignored")
            elif path.stat().st_size > max_file_bytes:
                skip("too_large")
            elif len(files) >= max_files:
                skip("too_many")
            else:
                text = _read_text(path)
                if text is None:
                    skip("binary")
                else:
                    files[str(relative)] = text
    return files, skipped


def _read_text(path: Path) -> str | None:
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        return None
    try:
        # newline="" semantics: bytes decoded as-is, so \r\n and trailing spaces survive.
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None
