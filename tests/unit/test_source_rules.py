"""Creator rules: one rule per recorded source, each pointing at a final name, whatever order they come in."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.domain.channels import Channel
from core.domain.source_rules import (
    InvalidRule,
    SourceRule,
    make_rule,
    recorded_as,
    shown_as,
    with_rule,
    without_rule,
)
from core.services.source_rules import SourceRules
from tests.unit.fakes import FakeUnitOfWork, Store


def test_a_rule_from_what_the_creator_typed() -> None:
    assert make_rule(" Ck ", "ConvertKit  ", "Email") == SourceRule("Ck", "ConvertKit", Channel.EMAIL)
    assert make_rule("blog.partner.org", "", "Affiliates") == SourceRule(
        "blog.partner.org", "blog.partner.org", Channel.AFFILIATES
    )
    with pytest.raises(InvalidRule, match="already shows as"):
        make_rule("Ck", "Ck")
    with pytest.raises(InvalidRule, match="Give the source"):
        make_rule("  ", "ConvertKit")
    with pytest.raises(InvalidRule, match="listed channels"):
        make_rule("Ck", "ConvertKit", "Newsletter")
    with pytest.raises(InvalidRule, match="at most 200"):
        make_rule("Ck", "x" * 201)


@pytest.mark.parametrize(
    ("existing", "added", "expected"),
    [
        # merged into a source that was itself renamed: straight to the final name
        ([("ConvertKit", "Kit")], ("Ck", "ConvertKit"), [("Ck", "Kit"), ("ConvertKit", "Kit")]),
        # renaming a source carries along what was merged into it
        ([("Ck", "ConvertKit")], ("ConvertKit", "Kit"), [("Ck", "Kit"), ("ConvertKit", "Kit")]),
        # the latest rule for a recorded source wins
        ([("Ck", "ConvertKit")], ("Ck", "Kit"), [("Ck", "Kit")]),
        # a merge turned around replaces it
        ([("ConvertKit", "Kit")], ("Kit", "ConvertKit"), [("Kit", "ConvertKit")]),
    ],
)
def test_rules_always_point_at_a_final_name(
    existing: list[tuple[str, str]], added: tuple[str, str], expected: list[tuple[str, str]]
) -> None:
    rules = [SourceRule(m, s) for m, s in existing]
    assert [(r.match, r.source) for r in with_rule(rules, SourceRule(*added))] == sorted(expected, key=lambda e: e[1])


NAMES = st.sampled_from(["Ck", "ConvertKit", "Kit", "Email", "Newsletter"])


@given(st.lists(st.tuples(NAMES, NAMES), max_size=12))
def test_any_sequence_of_rules_maps_each_source_once_and_never_through_a_chain(pairs: list[tuple[str, str]]) -> None:
    rules: list[SourceRule] = []
    for match, source in pairs:
        if match != source:
            rules = with_rule(rules, SourceRule(match, source))
    matches = [r.match for r in rules]
    assert len(matches) == len(set(matches))
    # applying the rules twice changes nothing more than applying them once
    for name in ["Ck", "ConvertKit", "Kit", "Email", "Newsletter"]:
        assert shown_as(rules, shown_as(rules, name)) == shown_as(rules, name)
        assert name in recorded_as(rules, shown_as(rules, name))
    if pairs and pairs[-1][0] != pairs[-1][1]:
        last_match, last_source = pairs[-1]
        assert shown_as(rules, last_match) == shown_as(rules, last_source)


def test_recorded_as_lists_every_source_shown_under_a_name() -> None:
    rules = [SourceRule("Ck", "ConvertKit"), SourceRule("Kit", "ConvertKit"), SourceRule("Email", "Newsletter")]
    assert recorded_as(rules, "ConvertKit") == ["Ck", "ConvertKit", "Kit"]
    assert recorded_as(rules, "Email") == []  # renamed away: nothing is shown as Email any more
    assert recorded_as(rules, "YouTube") == ["YouTube"]
    assert without_rule(rules, "Ck") == rules[1:]


def test_the_service_stores_what_the_creator_added_and_removed() -> None:
    store = Store()
    rules = SourceRules(lambda: FakeUnitOfWork(store))
    rules.add(7, "Ck", "ConvertKit", "Email")
    rules.add(7, "blog.partner.org", "Partner Blog")
    assert rules.rules(7) == [
        SourceRule("Ck", "ConvertKit", Channel.EMAIL),
        SourceRule("blog.partner.org", "Partner Blog"),
    ]
    assert rules.rules(8) == []
    with pytest.raises(InvalidRule):
        rules.add(7, "Ck", "")
    rules.remove(7, "Ck")
    assert rules.rules(7) == [SourceRule("blog.partner.org", "Partner Blog")]
