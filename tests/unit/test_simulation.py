"""The simulator's own honesty: its truth speaks the classifier's names, and a seed fixes the traffic."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from core.domain.events import EventKind
from core.domain.purchases import PurchaseRecord
from core.services.simulation import (
    CHANNELS,
    SCENARIOS,
    START,
    Hit,
    Person,
    Visit,
    _truth_of,
    collect_body,
    expected_source,
    generate,
)


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
    assert _truth_of(visits, bought) == ("Google", "Google")
