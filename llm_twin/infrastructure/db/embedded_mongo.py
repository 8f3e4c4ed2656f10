"""The embedded warehouse server: nx-27017, a MongoDB wire-protocol server on SQLite.

Chosen over SecantusDB because it is MIT-licensed (SecantusDB is GPL-2.0 and beta), starts in
well under a second and passed every pymongo check we rely on (upserts, unique indexes,
aggregation, change streams, surviving SIGKILL). The project starts it on demand on 127.0.0.1,
keeps its data, PID/port state and log under ``DATA_DIR/warehouse``, and reuses a running one.

A server is bound to its data folder: the state file names it, and a server is reused or stopped
only when the state names this folder and the process itself was started on it (a copied
``DATA_DIR`` carries the original's state file; its server is never used or stopped by the copy).
"""

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from llm_twin.domain.exceptions import StoreUnavailable

STATE_FILE = "server.json"
START_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class EmbeddedServer:
    """A running embedded server: its PID, port and data folder."""

    pid: int
    port: int
    data_dir: str

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"


class EmbeddedMongo:
    """Start, find and stop the embedded server whose files live under ``root``.

    Args:
        root: Folder for the server's data (``root/db``), state file, lock and log.
        port: Port to listen on; 0 picks a free one.
    """

    def __init__(self, root: Path, port: int = 0) -> None:
        self.root = Path(root)
        self.port = port

    @property
    def state_file(self) -> Path:
        return self.root / STATE_FILE

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    @property
    def data_dir(self) -> Path:
        return (self.root / "db").resolve()

    def _recorded(self) -> EmbeddedServer | None:
        """The server the state file records, if it is this folder's own and still runs; stale
        or foreign state (a dead process, another folder's server) is removed."""
        try:
            server = EmbeddedServer(**json.loads(self.state_file.read_text()))
        except (OSError, ValueError, TypeError):
            return None
        if _alive(server.pid) and self._owns(server):
            return server
        self.state_file.unlink(missing_ok=True)
        return None

    def _owns(self, server: EmbeddedServer) -> bool:
        """True if ``server`` serves this folder: recorded so, and its process was started on
        it (so a reused PID or a copied state file does not count)."""
        if Path(server.data_dir).resolve() != self.data_dir:
            return False
        arguments = _command_line(server.pid)
        # Empty for a process that is exiting: the record decides then.
        return not arguments or str(self.data_dir) in arguments

    def status(self) -> EmbeddedServer | None:
        """This folder's running server, or None (stale or foreign state is removed)."""
        server = self._recorded()
        if server is not None and _answers(server.port):
            return server
        return None

    def ensure_running(self) -> EmbeddedServer:
        """Reuse the running server or start one; safe to call from concurrent processes."""
        with self._lock():
            server = self.status()
            if server is not None:
                return server
            return self._start()

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop this folder's server if it runs (never another folder's); return True if one
        was stopped."""
        with self._lock():
            server = self._recorded()
            if server is None:
                return False
            stopped = _terminate(server.pid, timeout)
            self.state_file.unlink(missing_ok=True)
            return stopped

    def _start(self) -> EmbeddedServer:
        data_dir = self.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        # No server of this folder runs (checked under the lock): a PID file left here is a
        # dead server's or, in a copied folder, the original's, which nx-27017 would obey.
        (self.root / "nx-27017.pid").unlink(missing_ok=True)
        port = self.port or _free_port()
        command = [
            sys.executable,
            "-c",
            "import sys; from nx_27017.nx_27017 import main; sys.exit(main())",
            "--data-dir",
            str(data_dir),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-file",
            str(self.log_file),
            "--pid-file",
            str(self.root / "nx-27017.pid"),
        ]
        with open(self.root / "server.stdout.log", "ab") as output:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives the CLI that started it
                cwd=self.root,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise StoreUnavailable(
                    f"the embedded warehouse server exited with code {process.returncode} on "
                    f"port {port}; see {self.root / 'server.stdout.log'}"
                )
            if _answers(port):
                server = EmbeddedServer(pid=process.pid, port=port, data_dir=str(data_dir))
                self.state_file.write_text(json.dumps(asdict(server)))
                return server
            time.sleep(0.1)
        _terminate(process.pid, 5.0)
        raise StoreUnavailable(
            f"the embedded warehouse server did not answer on port {port} within "
            f"{START_TIMEOUT_S:.0f} s; see {self.log_file}"
        )

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / "server.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of this process counts as dead
        finished, _ = os.waitpid(pid, os.WNOHANG)
        return finished == 0
    except ChildProcessError:
        return True


def _command_line(pid: int) -> str | None:
    """The process's command line (arguments joined by spaces), or ``None`` where ``/proc``
    cannot tell (then the state file's record alone decides)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return raw.replace(b"\0", b" ").decode(errors="replace")


def _answers(port: int) -> bool:
    """True if a MongoDB server answers ``ping`` on 127.0.0.1:port."""
    import pymongo

    try:
        with pymongo.MongoClient(
            "127.0.0.1", port, directConnection=True, serverSelectionTimeoutMS=500
        ) as client:
            client.admin.command("ping")
        return True
    except pymongo.errors.PyMongoError:
        return False


def _terminate(pid: int, timeout: float) -> bool:
    if not _alive(pid):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    return True
