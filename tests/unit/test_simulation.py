"""The simulator's own honesty: its truth speaks the classifier's names, and a seed fixes the traffic."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from adapters.simulator.playing import collect_body
from adapters.simulator.scenarios import CHANNELS, SCENARIOS, START, expected_source
from adapters.simulator.scoring import knowable_tied
from adapters.simulator.traffic import Hit, Person, Traffic, Truth, Visit, _truth_of, generate
from core.domain.events import EventKind
from core.domain.money import Money
from core.domain.purchases import PurchaseRecord


@pytest.mark.parametrize("channel", sorted(CHANNELS))
def test_each_channels_truth_is_what_the_classifier_names_it(channel: str) -> None:
    assert expected_source(channel) == CHANNELS[channel].source


def test_the_same_seed_makes_the_same_traffic_and_another_seed_other_traffic() -> None:
    small = replace(SCENARIOS["default"], people=40)
    one, again, other = generate(small, 5), generate(small, 5), generate(small, 6)
    assert one.timeline == again.timeline
    assert one.truths == again.truths
    assert one.timeline != other.timeline


def test_every_scenario_makes_purchases_with_truth_and_valid_hits() -> None:
    for scenario in SCENARIOS.values():
        traffic = generate(replace(scenario, people=30, buyer_share=0.5), 1)
        hits = [item for _, _, item in traffic.timeline if isinstance(item, Hit)]
        assert traffic.truths, scenario.name
        assert all(h.visitor_key is None or 8 <= len(h.visitor_key) <= 64 for h in hits)
        assert {h.kind for h in hits} <= set(EventKind)
        assert [at for at, _, _ in traffic.timeline] == sorted(at for at, _, _ in traffic.timeline)


def test_a_browser_that_keeps_no_id_sends_none_hands_none_over_and_carries_none_to_stripe() -> None:
    traffic = generate(replace(SCENARIOS["storage_blocked"], people=40, buyer_share=0.5), 1)
    hits = [item for _, _, item in traffic.timeline if isinstance(item, Hit)]
    purchases = [item for _, _, item in traffic.timeline if isinstance(item, PurchaseRecord)]
    assert hits
    assert all(h.visitor_key is None for h in hits)
    assert not any("_csv=" in h.url or "client_reference_id=" in h.url for h in hits)
    assert all(p.visitor_key is None for p in purchases)
    assert all("v" not in collect_body(h, "cs_site") for h in hits)


def test_the_truth_counts_only_visits_inside_the_lookback_window_before_the_purchase() -> None:
    person = Person(1, "a@example.com", [], buys=True, platform="stripe", opts_in=False, checkout_email="a@example.com")
    bought = START + timedelta(days=120)
    visits = [
        Visit(START, person, None, "youtube"),  # type: ignore[arg-type]
        Visit(START + timedelta(days=40), person, None, "google"),  # type: ignore[arg-type]
        Visit(bought - timedelta(hours=1), person, None, "direct"),  # type: ignore[arg-type]
        Visit(bought + timedelta(hours=1), person, None, "instagram"),  # type: ignore[arg-type]
    ]
    assert _truth_of(visits, bought) == (visits[1], "Google", "Google")


def _hit(event_id: str, url: str, minutes: int, email: str | None = None) -> Hit:
    kind = EventKind.IDENTIFY if email else EventKind.PAGEVIEW
    return Hit(
        START + timedelta(minutes=minutes), kind, url, "k", "UA", "en", "203.0.113.9", email=email, event_id=event_id
    )


def _phone_then_laptop(*phone_extra: Hit, keys: dict[str, str] | None = None) -> Traffic:
    """A phone lands from YouTube (e1); days later a laptop lands (e2), gives the email and buys."""
    hits = [
        _hit("e1", "https://creator.example/?utm_source=youtube", 0),
        *phone_extra,
        _hit("e2", "https://creator.example/", 5000),
        _hit("e3", "https://creator.example/free-guide", 5001, email="ann@example.com"),
    ]
    sale = PurchaseRecord("kajabi", "kajabi-1", Money(9900, "USD"), START + timedelta(minutes=5010), "ann@example.com")
    timeline = [(h.at, n, h) for n, h in enumerate(hits)] + [(sale.purchased_at, 99, sale)]
    truth = Truth("kajabi-1", 9900, 0, 1, 1, "YouTube", "YouTube", first_landing="e1", checkout_landing="e2")
    traffic = Traffic(SCENARIOS["default"], sorted(timeline, key=lambda i: (i[0], i[1])), {"kajabi-1": truth}, {})
    owners = {"e1": "phone", "e2": "laptop", "e3": "laptop"} | (keys or {})
    traffic.event_keys = {h.event_id: owners[h.event_id] for h in hits}
    return traffic


def test_a_first_visit_on_a_phone_that_never_gave_an_email_is_out_of_reach() -> None:
    assert knowable_tied(_phone_then_laptop()) == set()


def test_a_first_visit_on_a_phone_that_gave_the_email_is_within_reach_even_after_the_sale() -> None:
    later = _hit("e4", "https://creator.example/free-guide", 9000, email="ANN@example.com")
    assert knowable_tied(_phone_then_laptop(later, keys={"e4": "phone"})) == {"kajabi-1"}


def test_a_hand_off_brings_the_first_visits_browser_within_reach() -> None:
    # The phone clicks through to the school (its id handed over); the school id later gives the email.
    stamp = int((START + timedelta(minutes=1)).timestamp())  # handed over as the school page loads
    school = _hit("e4", f"https://creator-school.teachable.com/p/course?_csv=phone.{stamp}", 1)
    signed_in = _hit("e5", "https://creator-school.teachable.com/sign_in", 9000, email="ann@example.com")
    traffic = _phone_then_laptop(school, signed_in, keys={"e4": "school", "e5": "school"})
    assert knowable_tied(traffic) == {"kajabi-1"}
