"""The collect endpoint's inbox (adapters/persistence/inbox.py): events stored at the same moment share one
write (group commit), each is stored once and answered for, and a failed write is every waiting event's
failure, after which the next event is written as usual."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from adapters.persistence import tables as t
from adapters.persistence.inbox import GroupCommitInbox
from core.domain.events import EventKind, TrackerEvent
from core.ports.inbox import InboxUnavailable

THREADS = 12


def _event(client_event_id: str) -> TrackerEvent:
    return TrackerEvent(
        site_key="unused-here",
        client_event_id=client_event_id,
        kind=EventKind.PAGEVIEW,
        visitor_key="visitor01",
        url="https://example.com/",
        received_at=datetime(2026, 12, 7, 9, 30, tzinfo=UTC),
    )


def _site_id(container: Any) -> int:
    accounts = container.services.accounts()
    accounts.ensure_account("creator@example.com")
    site_id = accounts.add_site("creator@example.com", ["example.com"]).id
    assert site_id is not None
    return site_id


def _stored(container: Any) -> list[str]:
    with container.gateways.engine().connect() as connection:
        return sorted(connection.execute(select(t.inbound_events.c.client_event_id)).scalars())


def _writes(inbox: GroupCommitInbox, monkeypatch: pytest.MonkeyPatch, *, first_write_seconds: float) -> list[int]:
    """Spies on the inbox's writes: the size of each, in order. The first is held `first_write_seconds`, so
    events stored meanwhile queue behind it."""
    sizes: list[int] = []
    write = inbox._write

    def spied(events: Sequence[tuple[int, TrackerEvent]]) -> list[bool]:
        sizes.append(len(events))
        if len(sizes) == 1:
            time.sleep(first_write_seconds)
        return write(events)

    monkeypatch.setattr(inbox, "_write", spied)
    return sizes


def _at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Runs the calls on as many threads, released together; what each returned or raised, in order."""
    results: list[Any] = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(index: int) -> None:
        start.wait()
        try:
            results[index] = calls[index]()
        except Exception as error:
            results[index] = error

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads), "a thread still waits for its event"
    return results


def test_events_stored_at_the_same_moment_share_a_write(container, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    site_id = _site_id(container)
    inbox = container.gateways.inbox()
    sizes = _writes(inbox, monkeypatch, first_write_seconds=0.3)
    ids = [f"event{n:04d}" for n in range(THREADS)]

    answers = _at_once([lambda client_id=client_id: inbox.store(site_id, _event(client_id)) for client_id in ids])

    assert answers == [True] * THREADS
    assert _stored(container) == ids
    # The first write went alone; everything stored while it ran went in the next, or the few after.
    assert sum(sizes) == THREADS
    assert len(sizes) <= 3, sizes
    assert max(sizes) >= THREADS // 2, sizes


def test_each_event_is_stored_once_and_a_repeat_is_answered_as_one(container, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    site_id = _site_id(container)
    inbox = container.gateways.inbox()
    assert inbox.store(site_id, _event("event0000")) is True
    sizes = _writes(inbox, monkeypatch, first_write_seconds=0.3)

    # A beacon sent twice at once (and once more), and one stored before: in the same write.
    answers = _at_once(
        [lambda: inbox.store(site_id, _event("event0000"))] + [lambda: inbox.store(site_id, _event("event0001"))] * 3
    )

    assert answers[0] is False
    assert sorted(answers[1:]) == [False, False, True]
    assert _stored(container) == ["event0000", "event0001"]
    assert sum(sizes) == 4
    # A site deleted since the request looked it up: nothing stored, and no broken foreign key.
    assert inbox.store(site_id + 1000, _event("event0002")) is False
    assert _stored(container) == ["event0000", "event0001"]


def test_a_failed_write_fails_every_event_in_it_and_the_next_one_is_written(  # type: ignore[no-untyped-def]
    container, monkeypatch: pytest.MonkeyPatch
) -> None:
    site_id = _site_id(container)
    inbox = container.gateways.inbox()
    write = inbox._write
    broken = threading.Event()
    broken.set()

    def failing(events: Sequence[tuple[int, TrackerEvent]]) -> list[bool]:
        if broken.is_set():
            time.sleep(0.2)  # others queue behind this write, and fail with the next
            raise OperationalError("INSERT INTO inbound_events", {}, Exception("connection refused"))
        return write(events)

    monkeypatch.setattr(inbox, "_write", failing)
    answers = _at_once([lambda n=n: inbox.store(site_id, _event(f"event{n:04d}")) for n in range(THREADS)])

    assert all(isinstance(answer, InboxUnavailable) for answer in answers), answers
    assert _stored(container) == []
    broken.clear()  # the database is back
    assert inbox.store(site_id, _event("event0100")) is True
    assert _stored(container) == ["event0100"]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_write_is_one_prepared_statement_in_autocommit_on_postgresql(  # type: ignore[no-untyped-def]
    container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One statement (one round trip, in autocommit, prepared once on the inbox's own connection) per write,
    however many events it carries."""
    site_id = _site_id(container)
    inbox = container.gateways.inbox()
    sizes = _writes(inbox, monkeypatch, first_write_seconds=0.3)
    connection = inbox._postgresql
    inserts: list[bytes] = []
    insert = connection.insert

    def noted(payload: bytes) -> list[tuple[int, str]]:
        inserts.append(payload)
        return insert(payload)

    monkeypatch.setattr(connection, "insert", noted)
    answers = _at_once([lambda n=n: inbox.store(site_id, _event(f"event{n:04d}")) for n in range(THREADS)])

    assert answers == [True] * THREADS
    assert len(inserts) == len(sizes) < THREADS
    driver = connection._connection
    assert driver.autocommit is True  # no BEGIN or COMMIT of its own around the statement
    prepared = driver.execute("SELECT statement FROM pg_prepared_statements").fetchall()
    assert len(prepared) == 1
    assert prepared[0][0].startswith("INSERT INTO inbound_events")
    assert "$1" in prepared[0][0]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_other_threads_run_while_a_write_waits_on_postgresql(container) -> None:  # type: ignore[no-untyped-def]
    """The write goes through libpq directly: while it waits for PostgreSQL, the process's other threads
    (the other requests) keep running, as they did through psycopg's cursor."""
    site_id = _site_id(container)
    inbox = container.gateways.inbox()
    assert inbox.store(site_id, _event("event0000")) is True  # connected and prepared
    blocker = container.gateways.engine().connect()
    # Were the write to hold the GIL, this thread could not end the blocking transaction: PostgreSQL ends it
    # after 3 s instead, and the checks below fail rather than hang.
    blocker.execute(text("SET idle_in_transaction_session_timeout = '3s'"))
    try:
        # The same event, inserted and not yet committed elsewhere: the inbox's insert waits for that
        # transaction to end before it can tell whether its row conflicts.
        blocker.execute(
            t.inbound_events.insert().values(
                site_id=site_id,
                user_id=select(t.sites.c.user_id).where(t.sites.c.id == site_id).scalar_subquery(),
                client_event_id="event0001",
                kind="pageview",
                visitor_key="visitor01",
                url="https://example.com/",
                received_at=datetime(2026, 12, 7, 9, 30, tzinfo=UTC),
            )
        )
        writing = threading.Thread(target=lambda: inbox.store(site_id, _event("event0001")))
        writing.start()
        time.sleep(0.3)  # the write is under way, waiting on the lock
        assert writing.is_alive()
        counted = 0
        until = time.monotonic() + 0.3
        while time.monotonic() < until:
            counted += 1
        assert counted > 10_000, "this thread barely ran while the write waited"
        assert writing.is_alive()
    finally:
        blocker.rollback()
        blocker.close()
    writing.join(10)
    assert not writing.is_alive()
    assert _stored(container) == ["event0000", "event0001"]
