"""The collect endpoint in the production setup, against a no-op endpoint under the same server settings.

Two gunicorn servers run side by side with production's settings (gthread, 2 workers x 8 threads, no
gunicorn access log, one trusted proxy): the app (`coursesignal.container:build_app()`) on PostgreSQL and
a Redis of the bench's own, with `coursesignal worker` running, and a Flask app whose POST /t/e only answers
204. One load generator (this process, asyncio, keep-alive connections) sends tracker page views to one,
then the other, A B A B, for `--pairs` pairs of `--seconds` each, and prints req/s, p50 and p99 of both,
their ratio per pair and the median ratio, and where the CPU went: each process tree's CPU time per request
(the servers, the worker, a local PostgreSQL, the bench's Redis, the load generator) and the share of the
machine left idle. Every event is unique and sent from one of many addresses (in
X-Forwarded-For, as the proxy would) to one of `SITES` sites of as many accounts, so neither the per-sender
nor the per-site limit throttles the run. At the end the worker drains what is waiting, and the bench checks
that every event answered 204 is stored exactly once.

Usage: python -m bench.collect [--pairs 6] [--seconds 8] [--connections 32]
       [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet
from flask import Flask, Response
from sqlalchemy import create_engine, func, select, text

from adapters.persistence import tables as t
from adapters.persistence.migrate import upgrade
from coursesignal.container import create_container
from coursesignal.settings import Settings
from tests.private_services import PrivateRedis, free_port, process_tree

BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/537.36 Chrome/130 Safari/537.36"
SOURCES = ["utm_source=youtube&utm_medium=video", "utm_source=ig", "utm_source=newsletter&utm_medium=email", ""]
SITES = 8
# Each connection carries this many requests, then the generator opens another. Browsers' beacons come over
# many short-lived connections; with a few long-lived ones instead, gunicorn's two processes share them as
# they happened to accept them at the start of a run, and one process, bound to one core by the GIL, can
# hold most of them for the whole run.
REQUESTS_PER_CONNECTION = 100
REPO = Path(__file__).resolve().parent.parent
# Production's server settings (docs/operations.md): the same for the app and the no-op.
GUNICORN = ["--worker-class", "gthread", "--workers", "2", "--threads", "8", "--timeout", "60"]


def noop_app() -> Flask:
    """The baseline: Flask under the same gunicorn, answering the tracker's request with nothing done."""
    app = Flask("noop")

    @app.post("/t/e")
    def collect() -> Response:
        return Response(status=204)

    return app


def cpu_seconds(pid: int) -> float:
    """CPU time of a process and everything it started, those it already reaped included (RQ's work horses)."""
    total = 0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    return total / os.sysconf("SC_CLK_TCK")


def postmaster_pid() -> int | None:
    """The local PostgreSQL server's first process, whose children are its backends; None if it runs elsewhere."""
    names, parents = {}, {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                names[int(entry.name)] = (entry / "comm").read_text().strip()
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    found = [pid for pid, name in names.items() if name == "postgres" and names.get(parents[pid]) != "postgres"]
    return found[0] if len(found) == 1 else None


GENERATOR = "load generator"


def machine_ticks() -> tuple[int, int]:
    """The machine's CPU time so far, all of it and the idle part, in clock ticks (/proc/stat)."""
    ticks = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(ticks), ticks[3] + ticks[4]  # idle and iowait


@dataclass
class Run:
    name: str
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    accepted: list[str] = field(default_factory=list)
    # CPU seconds each watched process tree spent during the run, by name.
    cpu: dict[str, float] = field(default_factory=dict)
    # The share of the machine's CPU time left idle during the run.
    idle: float = 0.0

    def cpu_ms_per_request(self, name: str) -> float:
        return self.cpu[name] * 1000 / max(1, len(self.latencies_ms))

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.seconds

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


class Load:
    """Page views for a few sites, each unique, from many addresses."""

    def __init__(self, site_keys: list[str]) -> None:
        self.site_keys = site_keys
        self.sent = 0
        self.run_id = uuid.uuid4().hex[:6]

    def next_request(self, port: int) -> tuple[str, bytes]:
        n = self.sent
        self.sent += 1
        event_id = f"b{self.run_id}{n:09d}"
        body = json.dumps(
            {
                "s": self.site_keys[n % len(self.site_keys)],
                "n": "pageview",
                "i": event_id,
                "v": f"visitor{n % 5000:06d}",
                "u": f"https://example.com/p{n % 7}?{SOURCES[n % 4]}",
                "r": None,
            }
        ).encode()
        address = f"198.51.{100 + (n // 250) % 2}.{n % 250}"  # documentation range: reaches nobody
        head = (
            f"POST /t/e HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: {BROWSER}\r\n"
            f"Content-Type: text/plain\r\nX-Forwarded-For: {address}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return event_id, head.encode() + body


async def _connection(port: int, load: Load, run: Run, deadline: float) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sent = 0
    try:
        while time.perf_counter() < deadline:
            if sent and sent % REQUESTS_PER_CONNECTION == 0:  # a new connection now and then, as browsers make
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            sent += 1
            event_id, request = load.next_request(port)
            started = time.perf_counter()
            writer.write(request)
            status_line = await reader.readline()
            if not status_line:  # the server closed the keep-alive connection: open another
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            if length:
                await reader.readexactly(length)
            run.latencies_ms.append((time.perf_counter() - started) * 1000)
            status = int(status_line.split()[1])
            run.statuses[status] = run.statuses.get(status, 0) + 1
            if status == 204:
                run.accepted.append(event_id)
    finally:
        writer.close()


def drive(name: str, port: int, load: Load, seconds: float, connections: int, watch: dict[str, int]) -> Run:
    """Load on `port` for `seconds`; the CPU time of the process trees in `watch` (name: pid) is noted."""
    run = Run(name, seconds)
    before = {tree: cpu_seconds(pid) for tree, pid in watch.items()}
    generator_before = time.process_time()
    ticks_before = machine_ticks()

    async def main() -> None:
        deadline = time.perf_counter() + seconds
        await asyncio.gather(*(_connection(port, load, run, deadline) for _ in range(connections)))

    started = time.perf_counter()
    asyncio.run(main())
    run.seconds = time.perf_counter() - started
    run.cpu = {tree: cpu_seconds(pid) - before[tree] for tree, pid in watch.items()}
    run.cpu[GENERATOR] = time.process_time() - generator_before
    ticks = machine_ticks()
    run.idle = (ticks[1] - ticks_before[1]) / max(1, ticks[0] - ticks_before[0])
    return run


@contextmanager
def _server(command: list[str], environment: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        process = subprocess.Popen(command, env=environment, stdout=out, stderr=out, cwd=REPO)  # noqa: S603 - our own servers
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()  # page_load waits inside an event loop
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"nothing serves on {port}:\n{log.read_text(errors='replace')[-3000:]}") from None
            time.sleep(0.2)


def _line(run: Run) -> str:
    other = {s: c for s, c in run.statuses.items() if s != 204}
    return (
        f"{run.name:<7} {run.rate:7.0f} req/s  p50 {run.percentile(0.5):6.1f} ms  p99 {run.percentile(0.99):6.1f} ms"
        + (f"  non-204: {other}" if other else "")
    )


def _medians(runs: list[Run]) -> str:
    rate = statistics.median(r.rate for r in runs)
    p50 = statistics.median(r.percentile(0.5) for r in runs)
    p99 = statistics.median(r.percentile(0.99) for r in runs)
    return f"{rate:.0f} req/s (p50 {p50:.1f} ms, p99 {p99:.1f} ms)"


def _prepare(database_url: str, redis_url: str, instance: Path) -> list[str]:
    """The schema and `SITES` accounts with a site each; their public keys."""
    settings = Settings(
        database_url=database_url,
        redis_url=redis_url,
        base_url="http://bench",
        instance_path=instance,
        environment="test",
        secret_key="bench",  # noqa: S106 - a throwaway app for the benchmark
    )
    container = create_container(settings)
    upgrade(container.gateways.engine())
    accounts = container.services.accounts()
    keys = []
    for n in range(SITES):
        accounts.ensure_account(f"bench{n}@example.com")
        keys.append(accounts.add_site(f"bench{n}@example.com", ["example.com"]).public_key)
    container.gateways.engine().dispose()
    return keys


def _stored(database_url: str, accepted: set[str], timeout: float) -> tuple[int, int, float]:
    """Once nothing waits: how many accepted events are in `events`, how many rows in all, and the wait."""
    engine = create_engine(database_url)
    started = time.monotonic()
    try:
        with engine.connect() as connection:
            while True:
                waiting = connection.execute(
                    select(func.count()).select_from(t.inbound_events).where(t.inbound_events.c.processed_at.is_(None))
                ).scalar_one()
                connection.commit()
                if not waiting or time.monotonic() - started > timeout:
                    break
                time.sleep(1)
            ids = connection.execute(select(t.events.c.client_event_id)).scalars().all()
    finally:
        engine.dispose()
    return len(accepted.intersection(ids)), len(ids), time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
    name = f"coursesignal_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    database_url = admin.url.set(database=name).render_as_string(hide_password=False)
    folder = Path(tempfile.mkdtemp(prefix="collect-bench-"))
    redis = PrivateRedis(folder / "redis")
    redis.start()
    log = folder / "servers.log"
    app_port, noop_port = free_port(), free_port()
    environment = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "COURSESIGNAL_ENV": "production",
        "COURSESIGNAL_DATABASE_URL": database_url,
        "COURSESIGNAL_REDIS_URL": redis.url,
        "COURSESIGNAL_SECRET_KEY": uuid.uuid4().hex + uuid.uuid4().hex,
        "COURSESIGNAL_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "COURSESIGNAL_BASE_URL": f"http://127.0.0.1:{app_port}",
        "COURSESIGNAL_INSTANCE_PATH": str(folder / "instance"),
        "COURSESIGNAL_TRUSTED_PROXIES": "1",
        "COURSESIGNAL_LOG_LEVEL": "INFO",
    }
    gunicorn = [str(Path(sys.executable).parent / "gunicorn"), *GUNICORN]
    try:
        site_keys = _prepare(database_url, redis.url, folder / "instance")
        with (
            _server([*gunicorn, "--bind", f"127.0.0.1:{app_port}", "coursesignal.container:build_app()"],
                    environment, log) as app,
            _server([*gunicorn, "--bind", f"127.0.0.1:{noop_port}", "bench.collect:noop_app()"],
                    environment, log) as noop,
            _server([str(Path(sys.executable).parent / "coursesignal"), "worker"], environment, log) as worker,
        ):  # fmt: skip
            _wait_for_port(app_port, app, log)
            _wait_for_port(noop_port, noop, log)
            watch = {"app": app.pid, "no-op": noop.pid, "worker": worker.pid, "Redis": redis.pid}
            if (postgres := postmaster_pid()) is not None:
                watch["PostgreSQL"] = postgres
            load = Load(site_keys)
            worker_cpu_before = cpu_seconds(worker.pid)
            accepted = set(drive("warm-up", app_port, load, 2, args.connections, watch).accepted)
            drive("warm-up", noop_port, load, 2, args.connections, watch)
            load_average = os.getloadavg()
            print(
                f"collect vs no-op, {args.pairs} pairs of {args.seconds:.0f} s, {args.connections} connections, "
                f"load average before {load_average[0]:.2f} {load_average[1]:.2f} {load_average[2]:.2f}"
            )
            ratios, collects, noops = [], [], []
            for pair in range(1, args.pairs + 1):
                collect = drive("collect", app_port, load, args.seconds, args.connections, watch)
                baseline = drive("no-op", noop_port, load, args.seconds, args.connections, watch)
                accepted.update(collect.accepted)
                ratios.append(collect.rate / baseline.rate)
                collects.append(collect)
                noops.append(baseline)
                print(f"pair {pair}: {_line(collect)} | {_line(baseline)} | ratio {ratios[-1]:.3f}")
            load_average = os.getloadavg()
            print(
                f"median ratio {statistics.median(ratios):.3f}; collect {_medians(collects)}, no-op {_medians(noops)}; "
                f"load average after {load_average[0]:.2f} {load_average[1]:.2f} {load_average[2]:.2f}"
            )
            print("CPU per request, ms (median of pairs; each process tree's, the whole machine's work):")
            for side, runs, server in (("collect", collects, "app"), ("no-op", noops, "no-op")):
                trees = [server, "worker", "PostgreSQL", "Redis", GENERATOR]
                shares = {
                    tree: statistics.median(r.cpu_ms_per_request(tree) for r in runs)
                    for tree in trees
                    if tree in runs[0].cpu
                }
                idle = statistics.median(r.idle for r in runs)
                each = ", ".join(f"{tree} {ms:.2f}" for tree, ms in shares.items())
                print(f"  {side:<7} {each}; sum {sum(shares.values()):.2f}; the machine idle {idle:.0%}")
            stored, rows, waited = _stored(database_url, accepted, timeout=600)
            worker_cpu = cpu_seconds(worker.pid) - worker_cpu_before
            print(
                f"rows stored: {len(accepted)} events answered 204, {stored} of them in `events` "
                f"({rows} rows in all; drained {waited:.0f} s after the last pair): "
                + ("every event stored exactly once" if stored == rows == len(accepted) else "MISMATCH")
            )
            print(
                f"the worker's CPU from the warm-up to the drained end: {worker_cpu * 1000 / max(1, stored):.2f} ms "
                "an event"
            )
    finally:
        redis.close()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
