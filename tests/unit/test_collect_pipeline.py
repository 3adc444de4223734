"""The collect path in two halves: the request path stores the event once, the job runs the pipeline."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.domain.events import DropReason, EventKind, TrackerEvent
from core.services.tracking import BATCH_SIZE, GIVE_UP_AFTER, PROCESS_TASK, SiteKeyCache
from tests.unit.fakes import FakeEvents, FakeUnitOfWork
from tests.unit.test_services import World


@pytest.fixture
def world() -> World:
    return World()


def _processed(world: World) -> dict[str, str | None]:
    return {e.event.client_event_id: outcome for e, _, outcome in world.store.inbound.values()}


def test_accept_stores_the_event_once_and_queues_the_pipeline(world: World) -> None:
    event = world.event(EventKind.PAGEVIEW, "visitor01", "https://example.com/?utm_source=yt")
    assert world.tracking.accept(event).stored
    assert world.tracking.accept(event).dropped is DropReason.DUPLICATE  # a retried beacon
    assert world.jobs.jobs == [(PROCESS_TASK, (world.account.id,))]
    (waiting,) = world.store.inbound.values()
    assert waiting[0].event.client_address is None, "the sender's address is never stored"
    assert not world.store.visitors
    assert world.tracking.backlog() == 1

    assert world.tracking.process_pending(world.account.id) == 1
    assert len(world.store.sessions) == 1
    assert _processed(world) == {event.client_event_id: "stored"}
    assert world.tracking.backlog() == 0
    # The job running twice (a retry, the sweeper racing the queue) changes nothing.
    assert world.tracking.process_pending(world.account.id) == 0
    assert len(world.store.sessions) == 1
    assert len(world.store.events) == 1


def test_the_pipeline_runs_in_the_order_events_were_accepted(world: World) -> None:
    first = world.event(EventKind.PAGEVIEW, "visitor01", "https://example.com/?utm_source=youtube")
    world.clock.advance(hours=2)
    second = world.event(EventKind.PAGEVIEW, "visitor01", "https://example.com/?utm_source=newsletter")
    world.tracking.accept(first)
    world.tracking.accept(second)
    world.tracking.process_pending(world.account.id)
    (visitor,) = world.store.visitors.values()
    assert visitor.first_touch is not None
    assert visitor.last_touch is not None
    assert (visitor.first_touch.source, visitor.last_touch.source) == ("YouTube", "Email")


def test_many_waiting_events_are_processed_in_batches(world: World) -> None:
    for n in range(BATCH_SIZE * 2 + 3):
        world.tracking.accept(world.event(EventKind.PAGEVIEW, f"visitor{n % 7:02d}"))
    assert world.tracking.process_pending(world.account.id) == BATCH_SIZE * 2 + 3
    assert len(world.store.events) == BATCH_SIZE * 2 + 3
    assert set(_processed(world).values()) == {"stored"}


def test_a_crash_mid_batch_commits_nothing_and_the_next_run_counts_each_event_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = [
        world.event(EventKind.PAGEVIEW, f"visitor{n:02d}", "https://example.com/?utm_source=yt") for n in range(6)
    ]
    for event in events:
        world.tracking.accept(event)
    add = FakeEvents.add

    def die_on_the_fourth(self: FakeEvents, event: TrackerEvent, *args: int | None) -> bool:
        if event.client_event_id == events[3].client_event_id:
            raise SystemExit("the worker is killed")  # not an Exception: nothing may catch it
        return add(self, event, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(FakeEvents, "add", die_on_the_fourth)
    with pytest.raises(SystemExit):
        world.tracking.process_pending(world.account.id)
    assert not world.store.sessions, "a batch is one transaction"
    assert world.tracking.backlog() == 6

    monkeypatch.setattr(FakeEvents, "add", add)
    assert world.tracking.process_pending(world.account.id) == 6
    assert len(world.store.sessions) == 6
    assert len(world.store.events) == 6


def test_an_event_that_cannot_be_processed_holds_back_no_other_and_is_set_aside(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = world.event(EventKind.PAGEVIEW, "visitor01")
    bad = world.event(EventKind.PAGEVIEW, "visitor02")
    later = world.event(EventKind.PAGEVIEW, "visitor03")
    for event in (good, bad, later):
        world.tracking.accept(event)
    add = FakeEvents.add

    def refuse_bad(self: FakeEvents, event: TrackerEvent, *args: int | None) -> bool:
        if event.client_event_id == bad.client_event_id:
            raise ValueError("a bug meets a strange event")
        return add(self, event, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(FakeEvents, "add", refuse_bad)
    world.tracking.process_pending(world.account.id)
    assert {key for _, key in world.store.events} == {good.client_event_id, later.client_event_id}
    assert world.tracking.backlog() == 1, "it waits for another try"
    for _ in range(GIVE_UP_AFTER - 1):
        world.tracking.sweep()
    assert world.tracking.backlog() == 0
    assert _processed(world)[bad.client_event_id] == "failed"
    assert len(world.store.events) == 2


def test_a_beacon_retried_after_its_inbound_row_is_gone_is_still_a_duplicate(world: World) -> None:
    event = world.event(EventKind.PAGEVIEW, "visitor01")
    assert world.tracking.record(event).stored
    world.clock.advance(hours=2)
    world.tracking.sweep()  # forgets processed rows after an hour
    assert not world.store.inbound
    assert world.tracking.record(event).dropped is DropReason.DUPLICATE
    assert _processed(world) == {event.client_event_id: "duplicate"}
    assert len(world.store.sessions) == 1
    assert world.tracking.dropped_counts() == {"duplicate": 1}


def test_the_sweeper_processes_what_no_job_picked_up(world: World) -> None:
    other = world.accounts.ensure_account("other@example.com")
    other_site = world.accounts.add_site("other@example.com", ["other.example"])
    world.tracking.accept(world.event(EventKind.PAGEVIEW, "visitor01"))
    world.tracking.accept(
        replace_key(world.event(EventKind.PAGEVIEW, "visitor01", "https://other.example/"), other_site.public_key)
    )
    world.jobs.jobs.clear()  # the queue lost them (Redis was down)
    assert world.tracking.sweep() == 2
    assert {world.store.sites[v.site_id].account_id for v in world.store.visitors.values()} == {
        world.account.id,
        other.id,
    }


def test_drops_on_the_request_path_are_counted_by_reason(world: World) -> None:
    world.tracking.accept(world.event(EventKind.PAGEVIEW, "visitor01", user_agent="Googlebot/2.1"))
    world.tracking.accept(replace_key(world.event(EventKind.PAGEVIEW, "visitor01"), "cs_nope"))
    world.limiter.blocked.add(f"site:{world.site.public_key}")
    world.tracking.accept(world.event(EventKind.PAGEVIEW, "visitor01"))
    assert world.tracking.dropped_counts() == {"bot": 1, "unknown_site": 1, "rate_limited": 1}
    assert not world.store.inbound


def replace_key(event: TrackerEvent, key: str) -> TrackerEvent:
    return replace(event, site_key=key)


class Ticking:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_site_key_cache_remembers_known_and_unknown_keys_for_a_while(world: World) -> None:
    lookups = 0

    def counting_uow() -> FakeUnitOfWork:
        nonlocal lookups
        lookups += 1
        return FakeUnitOfWork(world.store)

    clock = Ticking()
    cache = SiteKeyCache(counting_uow, seconds=30, size=2, clock=clock)
    known = cache.get(world.site.public_key)
    assert known is not None
    assert known.account_id == world.account.id
    assert cache.get("cs_unknown") is None
    assert cache.get(world.site.public_key) == known
    assert cache.get("cs_unknown") is None
    assert lookups == 2
    clock.now = 31
    assert cache.get(world.site.public_key) == known
    assert lookups == 3
    cache.get("cs_a")
    cache.get("cs_b")  # full: the oldest entries make room
    assert lookups == 5


def test_the_snippet_carries_the_sites_settings() -> None:
    from core.domain.sites import Site, tracking_snippet

    plain = Site(account_id=1, public_key="cs_key", allowed_domains=("example.com",))
    assert tracking_snippet("https://app.test", plain) == (
        '<script async src="https://app.test/t.js" data-site="cs_key"></script>'
    )
    linked = Site(
        account_id=1, public_key="cs_key", allowed_domains=("example.com", "school.example"), respect_gpc=True
    )
    assert tracking_snippet("https://app.test", linked) == (
        '<script async src="https://app.test/t.js" data-site="cs_key" '
        'data-domains="example.com,school.example" data-respect-gpc="1"></script>'
    )


def test_site_settings_are_checked_and_belong_to_their_account(world: World) -> None:
    from core.services.accounts import UnknownSite

    assert world.site.id is not None
    updated = world.accounts.update_site_settings(
        world.account.id, world.site.id, ["Example.com", " https://www.school.example/x ", "", "example.com"], True
    )
    assert (updated.allowed_domains, updated.respect_gpc) == (("example.com", "school.example"), True)
    with pytest.raises(ValueError, match="not a domain name"):
        world.accounts.update_site_settings(world.account.id, world.site.id, ["example.com", "nope"], False)
    with pytest.raises(ValueError, match="at least one domain"):
        world.accounts.update_site_settings(world.account.id, world.site.id, [" "], False)
    other = world.accounts.ensure_account("other@example.com")
    with pytest.raises(UnknownSite):
        world.accounts.update_site_settings(other.id, world.site.id, ["evil.example"], False)
    assert world.accounts.site_of(world.account.id, world.site.id).allowed_domains == ("example.com", "school.example")


def test_a_site_that_respects_gpc_drops_browsers_that_decline(world: World) -> None:
    assert world.site.id is not None
    world.accounts.update_site_settings(world.account.id, world.site.id, ["example.com"], True)
    declining = replace(world.event(EventKind.PAGEVIEW, "visitor01"), declines_tracking=True)
    assert world.tracking.accept(declining).dropped is DropReason.OPTED_OUT
    assert world.tracking.accept(world.event(EventKind.PAGEVIEW, "visitor02")).stored
    assert world.tracking.dropped_counts() == {"opted_out": 1}


def test_dropped_bot_visits_are_counted_per_site_and_day_and_nothing_else_is_kept(world: World) -> None:
    whatsapp = world.event(EventKind.PAGEVIEW, "visitor01", user_agent="WhatsApp/2.23.20.0 A")
    imessage = world.event(EventKind.PAGEVIEW, "visitor02", user_agent="facebookexternalhit/1.1 Facebot Twitterbot/1.0")
    assert world.tracking.accept(whatsapp).dropped is DropReason.BOT
    assert world.tracking.accept(imessage).dropped is DropReason.BOT
    world.tracking.accept(replace_key(world.event(EventKind.PAGEVIEW, "visitor03", user_agent="curl/8"), "cs_nope"))
    assert world.store.bot_visits == {(world.site.id, world.clock.now().date()): 2}
    assert not world.store.inbound
    # A sender over its rate limit is dropped without a count: a crawler hammering the endpoint costs nothing.
    world.limiter.blocked.add(f"site:{world.site.public_key}")
    world.tracking.accept(world.event(EventKind.PAGEVIEW, "visitor04", user_agent="Googlebot/2.1"))
    assert world.store.bot_visits == {(world.site.id, world.clock.now().date()): 2}
