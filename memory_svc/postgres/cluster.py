"""A throwaway PostgreSQL cluster for tests and benches: ``initdb`` in a temporary folder,
``pg_ctl`` on a free port, its unix socket in that folder, no system service and no TCP.

The server binaries come from ``LIFTOS_PG_BIN``, ``PATH`` or Debian's
``/usr/lib/postgresql/<version>/bin`` (the ``postgresql`` package installs them there and
puts only the clients on ``PATH``; ``scripts/install-postgres.sh`` installs it). PostgreSQL
refuses to run as root: as root the cluster runs as the ``postgres`` user (the Debian
package creates it), else ``nobody``.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

__all__ = ["PostgresNotInstalled", "ThrowawayCluster", "server_bin"]


class PostgresNotInstalled(RuntimeError):
    pass


def server_bin() -> Path:
    """The folder holding ``initdb`` and ``pg_ctl``."""
    candidates = []
    if os.environ.get("LIFTOS_PG_BIN"):
        candidates.append(Path(os.environ["LIFTOS_PG_BIN"]))
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)

    def version(folder: str) -> float:  # /usr/lib/postgresql/15/bin → 15.0
        try:
            return float(folder.split("/")[-2])
        except ValueError:
            return 0.0

    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True)
    candidates += [Path(p) for p in debian]
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    raise PostgresNotInstalled(
        "PostgreSQL's server is not installed (no initdb/pg_ctl in LIFTOS_PG_BIN, on PATH or "
        "under /usr/lib/postgresql/*/bin): run scripts/install-postgres.sh"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise PostgresNotInstalled("running as root and neither a postgres nor a nobody user exists")


def _as_user(name: str | None) -> list[str]:
    """The prefix that runs a command as ``name`` (none: as this process's user).

    ``setpriv`` rather than ``subprocess.run(user=...)``: a uid change makes subprocess fork()
    instead of vfork(), and fork() in a process that has used gRPC (a test's, a bench's) runs
    gRPC's fork handlers, which can abort the child before exec ("epoll_wait error: Bad file
    descriptor"; see mesh.runtime.supervised). One such initdb abort failed 30 tests in CI."""
    if name is None:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise PostgresNotInstalled(f"running as root needs setpriv (util-linux) to run as {name}")
    entry = pwd.getpwnam(name)
    return [setpriv, f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--init-groups", "--"]


class ThrowawayCluster:
    """A cluster that lives as long as the ``with`` block (or :meth:`start` … :meth:`stop`).

    ``durable=False`` turns ``fsync`` off — for tests, where a kill of the client (not of
    the machine) is the crash under test and fsyncs only cost time on a shared machine;
    the kill -9 bench keeps it on.
    """

    def __init__(self, *, durable: bool = False, user: str = "liftos") -> None:
        self.bin = server_bin()
        self.user = user
        self.durable = durable
        self.port = 0
        self.root: Path | None = None
        self._as = _run_as()

    @property
    def socket_dir(self) -> Path:
        assert self.root is not None, "the cluster is not started"
        return self.root

    def url(self, database: str = "postgres") -> str:
        """A libpq URL reaching the cluster over its unix socket."""
        host = quote(str(self.socket_dir), safe="")
        return f"postgresql://{self.user}@/{database}?host={host}&port={self.port}"

    def _call(self, *args: str, timeout: float = 120) -> None:
        done = subprocess.run(
            [*_as_user(self._as), *args], capture_output=True, text=True, timeout=timeout,
            check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"{Path(args[0]).name} failed: {done.stderr.strip()[-2000:]}")

    def start(self) -> ThrowawayCluster:
        # Not under pytest's tmp folders: they are 0700 root's, which the postgres user
        # cannot enter; this one is its own.
        self.root = Path(tempfile.mkdtemp(prefix="liftos-pg-"))
        if self._as:
            entry = pwd.getpwnam(self._as)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        data = self.root / "data"
        self._call(
            str(self.bin / "initdb"), "-D", str(data), "-U", self.user, "-A", "trust",
            "-E", "UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        self.port = _free_port()
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses='' "
            f"-c fsync={'on' if self.durable else 'off'} -c max_connections=200 "
            "-c shared_buffers=128MB"
        )
        self._call(
            str(self.bin / "pg_ctl"), "-D", str(data), "-l", str(self.root / "server.log"),
            "-o", options, "-w", "-t", "60", "start",
        )  # fmt: skip
        return self

    def create_database(self, name: str) -> str:
        """A new empty database; returns its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if self.root is None:
            return
        try:
            if (self.root / "data" / "postmaster.pid").exists():
                self._call(
                    str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate",
                    "-w", "stop",
                )  # fmt: skip
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def __enter__(self) -> ThrowawayCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
