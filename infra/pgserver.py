"""A throwaway PostgreSQL server from the Debian `postgresql` binaries (tests and benches), like
the embedded broker: initdb in a temp dir, `postgres` on a free port, removed on exit.

PostgreSQL refuses to run as root; as root the server runs as the `postgres` user (the
Debian package creates it) or `nobody`, in a directory it owns.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def binaries() -> Path | None:
    """The directory holding initdb and postgres, or None when PostgreSQL is not installed."""
    candidates = [Path("/usr/local/bin")] + [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                                                                         reverse=True)]
    which = shutil.which("postgres")
    if which:
        candidates.insert(0, Path(which).parent)
    for d in candidates:
        if (d / "initdb").exists() and (d / "postgres").exists():
            return d
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _account() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root and no `postgres` or `nobody` user to run PostgreSQL as")


class PostgresServer:
    def __init__(self, bin_dir: Path | None = None) -> None:
        self.bin_dir = bin_dir or binaries()
        if self.bin_dir is None:
            raise FileNotFoundError("PostgreSQL binaries (initdb, postgres) not found")
        self.port = _free_port()
        self.dir: Path | None = None
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://bo@127.0.0.1:{self.port}/postgres"

    def _preexec(self):
        account = _account()
        if account is None:
            return None

        def drop() -> None:
            os.setgid(account.pw_gid)
            os.setuid(account.pw_uid)
        return drop

    def start(self, timeout: float = 30.0) -> "PostgresServer":
        self.dir = Path(tempfile.mkdtemp(prefix="bo-pg-"))
        account = _account()
        if account is not None:
            os.chown(self.dir, account.pw_uid, account.pw_gid)
        data = self.dir / "data"
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        subprocess.run([str(self.bin_dir / "initdb"), "-D", str(data), "-U", "bo", "-A", "trust", "-E", "UTF8",
                        "--no-sync"], check=True, capture_output=True, preexec_fn=self._preexec(), env=env)
        self.proc = subprocess.Popen(
            [str(self.bin_dir / "postgres"), "-D", str(data), "-p", str(self.port), "-k", str(self.dir),
             "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=50"],
            stdout=subprocess.DEVNULL, stderr=open(self.dir / "server.log", "wb"), preexec_fn=self._preexec(),
            env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited: {(self.dir / 'server.log').read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    import psycopg

                    with psycopg.connect(f"host=127.0.0.1 port={self.port} user=bo dbname=postgres"):
                        return self
            except Exception:   # noqa: BLE001 - not up yet
                time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"postgres did not accept connections within {timeout}s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()           # SIGTERM: smart shutdown
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "PostgresServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
