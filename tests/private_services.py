"""A Redis and a PostgreSQL of a test's own, on free ports, for fault tests that stop, freeze and restart them.

The machine's shared services are never touched: each instance here is started by the test, in its own
temporary directory, and only that instance is stopped, frozen or killed (by the pid the test started).
PostgreSQL is a throwaway `initdb` cluster (run as the `postgres` user when the tests run as root, since
PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from redis import Redis
from redis.exceptions import RedisError


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def redis_server_available() -> bool:
    return shutil.which("redis-server") is not None


def postgres_binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PrivateRedis:
    """`redis-server` on a free port, keeping nothing on disk: stopped, it comes back empty."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self._process is not None, "not started"
        return self._process.pid

    def start(self) -> None:
        command = [
            "redis-server",
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self._directory),
        ]  # fmt: skip
        log = (self._directory / "redis.log").open("ab")
        self._process = subprocess.Popen(command, stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        while True:
            try:
                Redis.from_url(self.url, socket_timeout=0.5, socket_connect_timeout=0.5).ping()
                return
            except RedisError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start on {self.port}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        """Gone at once, with everything it held (SIGKILL: no chance to save anything)."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=10)
        self._process = None

    def freeze(self) -> None:
        """Connections are accepted by the kernel and never answered, as a hung Redis does."""
        assert self._process is not None
        os.kill(self._process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        assert self._process is not None
        os.kill(self._process.pid, signal.SIGCONT)

    def client(self) -> Redis:
        return Redis.from_url(self.url, socket_timeout=5, socket_connect_timeout=5)

    def close(self) -> None:
        if self._process is not None and self._process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._process.pid, signal.SIGCONT)
        self.stop()


class PrivatePostgres:
    """A throwaway cluster from `initdb` on a free port, trust authentication, one database `coursesignal`."""

    def __init__(self, directory: Path, binaries: Path) -> None:
        self.port = free_port()
        self._bin = binaries
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            # The `postgres` user cannot enter root's private temporary folders: a folder of its own in /tmp.
            directory = Path(tempfile.mkdtemp(prefix="coursesignal-test-pg-"))
        self._directory = directory
        self._data = directory / "data"
        self._socket_dir = directory / "socket"
        self._log = directory / "postgres.log"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/coursesignal"
        directory.mkdir(parents=True, exist_ok=True)
        self._socket_dir.mkdir(exist_ok=True)
        if self._as_postgres:
            user = pwd.getpwnam("postgres")
            for path in (directory, self._socket_dir):
                os.chown(path, user.pw_uid, user.pw_gid)

    def _run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        prefix = ["runuser", "-u", "postgres", "--"] if self._as_postgres else []
        return subprocess.run([*prefix, *command], check=check, capture_output=True, timeout=120)

    def _pg_ctl(self, *args: str) -> None:
        options = f"-p {self.port} -k {self._socket_dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(str(self._bin / "pg_ctl"), "-D", str(self._data), "-l", str(self._log), "-o", options, "-w", *args)

    def start(self) -> None:
        if not self._data.exists():
            self._run(str(self._bin / "initdb"), "-D", str(self._data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
            self._pg_ctl("start")
            self._run(str(self._bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                      "coursesignal")  # fmt: skip
            return
        self._pg_ctl("start")

    def restart(self) -> None:
        """A fast restart: every connection is cut, the server is back a moment later."""
        self._pg_ctl("-m", "fast", "restart")

    def stop(self) -> None:
        self._pg_ctl("-m", "immediate", "stop")

    def close(self) -> None:
        if self._data.exists():
            self._run(str(self._bin / "pg_ctl"), "-D", str(self._data), "-m", "immediate", "-w", "stop", check=False)
        if self._as_postgres:
            shutil.rmtree(self._directory, ignore_errors=True)


def process_tree(pid: int) -> list[int]:
    """The process and everything it started (an RQ work horse), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, ()))
    return found


COURSESIGNAL = (sys.executable, "-c", "from coursesignal.cli import main; main()")


class Started:
    """A `coursesignal` command the test started (a worker, the app), or another `program` (gunicorn), its
    output in `log`."""

    def __init__(
        self,
        args: list[str],
        environment: dict[str, str],
        log: Path,
        cwd: Path,
        *,
        program: Sequence[str] = COURSESIGNAL,
    ) -> None:
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [*program, *args],
                env=environment,
                cwd=cwd,
                stdout=out,
                stderr=out,
            )

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill9(self) -> None:
        """SIGKILL to the process and all it started: nothing is cleaned up, as after a crash."""
        for pid in process_tree(self.process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.alive():
            self.kill9()
