"""The simulator's own honesty: its truth speaks the classifier's names, and a seed fixes the traffic."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.domain.events import EventKind
from core.services.simulation import CHANNELS, SCENARIOS, Hit, expected_source, generate


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
        assert all(8 <= len(h.visitor_key) <= 64 for h in hits)
        assert {h.kind for h in hits} <= set(EventKind)
        assert [at for at, _, _ in traffic.timeline] == sorted(at for at, _, _ in traffic.timeline)
