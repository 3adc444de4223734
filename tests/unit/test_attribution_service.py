"""Each matching rule, each tie, stitching and re-attribution, through the services on fakes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.domain.attribution import RULES_VERSION
from core.domain.events import EventKind
from core.domain.purchases import AttributionStatus, MatchMethod, UnmatchedReason
from tests.unit.attribution_world import AttributionWorld

CHECKOUT = "https://example.com/offers/abc/checkout"


@pytest.fixture
def world() -> AttributionWorld:
    return AttributionWorld()


def test_rule_1_a_carried_visitor_id_matches_with_full_confidence(world: AttributionWorld) -> None:
    world.visit("visitor01", "youtube")
    world.clock.advance(hours=1)
    purchase = world.buy("p1", email="someone@example.com", visitor_key="visitor01")
    assert (purchase.match_method, purchase.match_confidence) == (MatchMethod.VISITOR_ID, 99)
    assert world.credited("p1") == {"first_touch": "YouTube", "last_touch": "YouTube"}


def test_rule_2_the_buyers_email_stitches_phone_and_laptop(world: AttributionWorld) -> None:
    world.visit("phone0001", "youtube")
    world.identify("phone0001", "buyer@example.com")
    world.clock.advance(days=4)
    world.visit("laptop001", "ig")
    world.identify("laptop001", "buyer@example.com")
    world.clock.advance(minutes=10)
    purchase = world.buy("p1", email="buyer@example.com")
    assert purchase.match_method is MatchMethod.EMAIL
    assert world.credited("p1") == {"first_touch": "YouTube", "last_touch": "Instagram"}
    history = world.store.histories[purchase.id or 0]
    assert [h.visitor_id for h in history] == [world.visitor_id("phone0001"), world.visitor_id("laptop001")]


def test_rule_3_a_gift_is_matched_by_the_students_email(world: AttributionWorld) -> None:
    world.visit("student01", "podcast")
    world.identify("student01", "student@example.com")
    world.clock.advance(days=2)
    purchase = world.buy("p1", email="parent@example.com", recipient_email="student@example.com")
    assert (purchase.match_method, purchase.match_confidence) == (MatchMethod.RECIPIENT_EMAIL, 85)
    assert world.credited("p1")["first_touch"] == "Podcast"


def test_rule_4_the_one_browser_that_reached_checkout_just_before(world: AttributionWorld) -> None:
    world.visit("visitor01", "youtube", fingerprint="fp-a")
    world.clock.advance(minutes=2)
    world.send(EventKind.CLICK, "visitor01", "https://sso.teachable.com/secure/1/checkout/2", fingerprint="fp-a")
    world.clock.advance(minutes=4)
    purchase = world.buy("p1", email="unknown@example.com")
    assert (purchase.match_method, purchase.match_confidence) == (MatchMethod.FINGERPRINT, 60)
    assert world.credited("p1")["first_touch"] == "YouTube"


def test_rule_4_credits_only_the_browser_at_checkout_not_others_with_its_fingerprint(world: AttributionWorld) -> None:
    # Two coworkers behind one office address, same browser and language: one fingerprint, two people.
    world.visit("coworker1", "facebook", fingerprint="fp-office")
    world.clock.advance(hours=3)
    world.visit("visitor01", "youtube", fingerprint="fp-office")
    world.send(EventKind.PAGEVIEW, "visitor01", CHECKOUT, fingerprint="fp-office")
    world.clock.advance(minutes=4)
    purchase = world.buy("p1", email="unknown@example.com")
    assert purchase.match_method is MatchMethod.FINGERPRINT
    assert world.credited("p1") == {"first_touch": "YouTube", "last_touch": "YouTube"}
    history = world.store.histories[purchase.id or 0]
    assert {h.visitor_id for h in history} == {world.visitor_id("visitor01")}


def test_rule_4_tie_two_browsers_at_checkout_leave_the_purchase_unmatched(world: AttributionWorld) -> None:
    world.visit("visitor01", "youtube", fingerprint="fp-a")
    world.send(EventKind.PAGEVIEW, "visitor01", CHECKOUT, fingerprint="fp-a")
    world.visit("visitor02", "ig", fingerprint="fp-b")
    world.send(EventKind.PAGEVIEW, "visitor02", CHECKOUT, fingerprint="fp-b")
    world.clock.advance(minutes=3)
    purchase = world.buy("p1", email="unknown@example.com")
    assert purchase.status is AttributionStatus.UNMATCHED
    assert world.credited("p1") == {}


def test_rule_4_two_coworkers_at_checkout_with_one_fingerprint_are_a_tie(world: AttributionWorld) -> None:
    world.visit("coworker1", "facebook", fingerprint="fp-office")
    world.send(EventKind.PAGEVIEW, "coworker1", CHECKOUT, fingerprint="fp-office")
    world.visit("visitor01", "youtube", fingerprint="fp-office")
    world.send(EventKind.PAGEVIEW, "visitor01", CHECKOUT, fingerprint="fp-office")
    world.clock.advance(minutes=3)
    assert world.buy("p1", email="unknown@example.com").status is AttributionStatus.UNMATCHED


def test_rule_4_one_browser_handed_to_a_checkout_on_another_domain_is_one_candidate(world: AttributionWorld) -> None:
    world.visit("mainsite1", "youtube", fingerprint="fp-a")
    world.clock.advance(minutes=1)
    world.send(EventKind.CLICK, "mainsite1", "https://pay.example.net/checkout/1", fingerprint="fp-a")
    stamp = int(world.clock.now().timestamp())
    world.send(
        EventKind.PAGEVIEW,
        "payment01",
        f"https://pay.example.net/checkout/1?_csv=mainsite1.{stamp}",
        fingerprint="fp-a",
    )
    world.clock.advance(minutes=3)
    purchase = world.buy("p1", email="unknown@example.com")
    assert purchase.match_method is MatchMethod.FINGERPRINT
    assert world.credited("p1")["first_touch"] == "YouTube"


def test_rule_4_a_late_second_checkout_visit_turns_a_match_into_a_tie(world: AttributionWorld) -> None:
    at = world.clock.now()
    world.visit("visitor01", "youtube", fingerprint="fp-a")
    world.send(EventKind.PAGEVIEW, "visitor01", CHECKOUT, fingerprint="fp-a")
    world.clock.advance(minutes=5)
    assert world.buy("p1", email="unknown@example.com").match_method is MatchMethod.FINGERPRINT
    world.visit("visitor02", "ig", fingerprint="fp-b", at=at + timedelta(minutes=1))
    world.send(EventKind.PAGEVIEW, "visitor02", CHECKOUT, fingerprint="fp-b", at=at + timedelta(minutes=2))
    assert world.purchase("p1").status is AttributionStatus.UNMATCHED


def test_rule_4_a_checkout_visit_explained_by_another_purchase_is_no_rival(world: AttributionWorld) -> None:
    world.visit("known0001", "google", fingerprint="fp-k")
    world.identify("known0001", "known@example.com")
    world.send(EventKind.PAGEVIEW, "known0001", CHECKOUT, fingerprint="fp-k")
    world.visit("visitor01", "youtube", fingerprint="fp-a")
    world.send(EventKind.PAGEVIEW, "visitor01", CHECKOUT, fingerprint="fp-a")
    world.clock.advance(minutes=3)
    assert world.buy("p1", email="unknown@example.com").status is AttributionStatus.UNMATCHED
    world.buy("p2", email="known@example.com")
    assert world.purchase("p1").match_method is MatchMethod.FINGERPRINT
    assert world.credited("p1")["first_touch"] == "YouTube"


def test_nothing_fits_the_purchase_stays_unmatched_and_is_not_credited_to_direct(world: AttributionWorld) -> None:
    world.visit("visitor01", "youtube")
    purchase = world.buy("p1", email="stranger@example.com")
    assert (purchase.status, purchase.match_method, purchase.match_confidence) == (
        AttributionStatus.UNMATCHED,
        None,
        None,
    )


def test_the_rules_are_tried_in_order_and_the_first_with_visits_wins(world: AttributionWorld) -> None:
    world.visit("visitor01", "youtube")
    world.identify("visitor02", "buyer@example.com")  # an email but no visit before the purchase
    world.clock.advance(minutes=1)
    assert world.buy("p1", email="buyer@example.com", visitor_key="nosuchvisitor").status is AttributionStatus.UNMATCHED
    world.visit("visitor03", "ig")
    world.identify("visitor03", "student@example.com")
    world.clock.advance(minutes=1)
    purchase = world.buy("p2", email="buyer@example.com", recipient_email="student@example.com")
    assert purchase.match_method is MatchMethod.RECIPIENT_EMAIL


def test_a_shared_computer_splits_two_buyers_by_time(world: AttributionWorld) -> None:
    world.visit("family001", "youtube")
    world.identify("family001", "alice@example.com")
    world.clock.advance(days=1)
    world.buy("p-alice", email="alice@example.com")
    world.clock.advance(days=3)
    world.identify("family001", "bob@example.com")
    world.visit("family001", "ig")
    world.clock.advance(hours=1)
    world.buy("p-bob", email="bob@example.com")
    assert world.credited("p-alice") == {"first_touch": "YouTube", "last_touch": "YouTube"}
    assert world.credited("p-bob") == {"first_touch": "Instagram", "last_touch": "Instagram"}


def test_a_shared_computer_gives_each_buyer_the_visit_they_signed_up_in_and_nobody_the_visits_before(
    world: AttributionWorld,
) -> None:
    world.visit("family001", "youtube")  # someone, before anyone gave an email: could be either of them
    world.clock.advance(days=1)
    world.visit("family001", "google")
    world.clock.advance(minutes=4)
    world.identify("family001", "alice@example.com")
    world.clock.advance(days=2)
    world.visit("family001", "ig")  # Bob lands from Instagram and signs up in the same visit
    world.clock.advance(minutes=3)
    world.identify("family001", "bob@example.com")
    world.clock.advance(minutes=20)
    world.buy("p-bob", email="bob@example.com")
    world.clock.advance(days=1)
    world.buy("p-alice", email="alice@example.com")
    assert world.credited("p-bob") == {"first_touch": "Instagram", "last_touch": "Instagram"}
    assert world.credited("p-alice") == {"first_touch": "Google", "last_touch": "Google"}


def test_a_browser_that_only_ever_gave_one_email_keeps_the_visits_that_led_to_it(world: AttributionWorld) -> None:
    world.visit("laptop001", "youtube")
    world.clock.advance(days=2)
    world.visit("laptop001", "google")
    world.identify("laptop001", "ann@example.com")
    world.clock.advance(hours=1)
    world.buy("p1", email="ann@example.com")
    assert world.credited("p1") == {"first_touch": "YouTube", "last_touch": "Google"}


def test_a_handoff_from_a_shared_computer_never_merges_two_buyers(world: AttributionWorld) -> None:
    world.visit("family001", "youtube")
    world.identify("family001", "alice@example.com")
    world.clock.advance(days=3)
    world.visit("family001", "ig")  # Bob, anonymous on the family computer, goes on to the school
    world.clock.advance(minutes=1)
    stamp = int(world.clock.now().timestamp())
    world.send(EventKind.PAGEVIEW, "school001", f"https://school.example/p/course?_csv=family001.{stamp}")
    world.clock.advance(minutes=5)
    world.buy("p-bob", email="bob@example.com")
    world.clock.advance(minutes=20)
    world.identify("school001", "bob@example.com")  # signs in to the school after buying
    purchase = world.purchase("p-bob")
    assert purchase.match_method is MatchMethod.EMAIL
    history = world.store.histories[purchase.id or 0]
    assert {h.visitor_id for h in history} == {world.visitor_id("school001")}  # never Alice's visits


def test_a_cross_domain_handoff_joins_the_two_visitor_ids(world: AttributionWorld) -> None:
    world.visit("mainsite1", "youtube")
    world.clock.advance(minutes=1)
    stamp = int(world.clock.now().timestamp())
    world.send(EventKind.PAGEVIEW, "school001", f"https://school.example/p/course?_csv=mainsite1.{stamp}")
    world.identify("school001", "buyer@example.com")
    world.clock.advance(minutes=5)
    purchase = world.buy("p1", email="buyer@example.com")
    assert purchase.match_method is MatchMethod.EMAIL
    assert world.credited("p1")["first_touch"] == "YouTube"


def test_an_identify_after_the_purchase_attributes_it_at_once(world: AttributionWorld) -> None:
    world.visit("visitor01", "youtube")
    world.clock.advance(minutes=5)
    assert world.buy("p1", email="late@example.com").status is AttributionStatus.UNMATCHED
    world.clock.advance(minutes=20)
    world.identify("visitor01", "late@example.com")
    assert world.purchase("p1").match_method is MatchMethod.EMAIL
    assert ("reattribute_visitor", (world.account_id, world.visitor_id("visitor01"))) in world.jobs.ran


def test_a_late_event_from_before_the_purchase_re_attributes_it(world: AttributionWorld) -> None:
    start = world.clock.now()
    world.visit("visitor01", "ig")
    world.identify("visitor01", "buyer@example.com")
    world.clock.advance(days=1)
    world.buy("p1", email="buyer@example.com")
    assert world.credited("p1")["first_touch"] == "Instagram"
    world.visit("visitor01", "youtube", at=start - timedelta(days=2))
    assert world.credited("p1")["first_touch"] == "YouTube"


def test_the_lookback_window_is_set_per_account(world: AttributionWorld) -> None:
    world.visit("visitor01", "youtube")
    world.clock.advance(days=40)
    world.visit("visitor01", "ig")
    world.identify("visitor01", "buyer@example.com")
    world.clock.advance(hours=1)
    world.buy("p1", email="buyer@example.com")
    assert world.credited("p1")["first_touch"] == "YouTube"
    world.attribution.set_lookback(world.account_id, 30)
    assert world.credited("p1")["first_touch"] == "Instagram"
    world.attribution.set_lookback(world.account_id, 7)
    assert world.credited("p1")["first_touch"] == "Instagram"


def test_forgetting_a_visitor_removes_it_from_every_identity_and_journey(world: AttributionWorld) -> None:
    world.visit("phone0001", "youtube")
    world.identify("phone0001", "buyer@example.com")
    world.clock.advance(days=1)
    world.visit("laptop001", "ig")
    world.identify("laptop001", "buyer@example.com")
    world.clock.advance(hours=1)
    world.buy("p1", email="buyer@example.com")
    phone = world.visitor_id("phone0001")
    assert world.attribution.forget_visitor(world.account_id, "phone0001") == 1
    purchase = world.purchase("p1")
    assert all(h.visitor_id != phone for h in world.store.histories[purchase.id or 0])
    assert world.credited("p1")["first_touch"] == "Instagram"
    assert all(c.visitor_id != phone for _, c in world.store.claims.values())
    assert world.attribution.forget_visitor(world.account_id, "phone0001") == 0


def test_reattribute_reruns_purchases_attributed_under_older_rules(world: AttributionWorld) -> None:
    world.visit("visitor01", "youtube")
    world.identify("visitor01", "buyer@example.com")
    world.buy("p1", email="buyer@example.com")
    assert world.purchase("p1").rules_version == RULES_VERSION
    assert world.attribution.reattribute_all() == 0
    stored = world.store.purchases[world.purchase("p1").id or 0]
    stored.rules_version = RULES_VERSION - 1
    assert world.attribution.reattribute_all(world.account_id) == 1
    assert world.purchase("p1").rules_version == RULES_VERSION
    assert world.attribution.reattribute_all(world.account_id, force=True) == 1


# --- the checkout email wins for its sale -----------------------------------------------------------


def test_an_email_typed_at_checkout_ties_that_browser_to_its_sale_though_it_gave_another_before(
    world: AttributionWorld,
) -> None:
    # The student opts in on the family browser; in the same visit the giver opens the checkout and types
    # their own email there one second before the sale.
    world.visit("family001", "youtube", fingerprint="fp-home")
    world.identify("family001", "student@example.com")
    world.clock.advance(minutes=3)
    world.send(EventKind.PAGEVIEW, "family001", CHECKOUT, fingerprint="fp-home")
    world.clock.advance(minutes=1)
    world.identify("family001", "giver@example.com", fingerprint="fp-home")
    world.clock.advance(seconds=1)
    purchase = world.buy("gift", email="giver@example.com")
    assert (purchase.match_method, purchase.visitor_id) == (MatchMethod.EMAIL, world.visitor_id("family001"))
    assert world.credited("gift") == {"first_touch": "YouTube", "last_touch": "YouTube"}  # the visit that bought


def test_the_checkout_rule_needs_the_checkout_and_the_sales_own_email(world: AttributionWorld) -> None:
    world.visit("family001", "youtube", fingerprint="fp-home")
    world.identify("family001", "student@example.com")
    world.clock.advance(minutes=1)
    world.identify("family001", "giver@example.com")  # on an ordinary page, not at checkout
    world.clock.advance(seconds=1)
    purchase = world.buy("gift", email="giver@example.com")
    assert purchase.status is AttributionStatus.UNMATCHED
    assert purchase.unmatched_reason is UnmatchedReason.NO_VISIT_IN_WINDOW


def test_a_browser_explained_by_its_checkout_email_no_longer_blocks_a_timing_match(world: AttributionWorld) -> None:
    world.visit("family001", "youtube", fingerprint="fp-home")
    world.identify("family001", "student@example.com")
    world.visit("teacher01", "instagram", fingerprint="fp-school")
    world.clock.advance(minutes=2)
    world.send(EventKind.PAGEVIEW, "family001", CHECKOUT, fingerprint="fp-home")
    world.send(EventKind.CLICK, "teacher01", "https://sso.teachable.com/secure/1/checkout/2", fingerprint="fp-school")
    world.clock.advance(minutes=1)
    world.identify("family001", "giver@example.com", fingerprint="fp-home")
    world.clock.advance(seconds=1)
    assert world.buy("gift", email="giver@example.com").match_method is MatchMethod.EMAIL
    world.clock.advance(minutes=10)
    other = world.buy("teachable", email="unknown@example.com")
    assert (other.match_method, other.visitor_id) == (MatchMethod.FINGERPRINT, world.visitor_id("teacher01"))


def test_an_unmatched_sale_says_the_real_reason(world: AttributionWorld) -> None:
    world.visit("visitor01", "youtube", fingerprint="fp-a")
    world.visit("visitor02", "google", fingerprint="fp-b")
    world.send(EventKind.PAGEVIEW, "visitor01", CHECKOUT, fingerprint="fp-a")
    world.send(EventKind.PAGEVIEW, "visitor02", CHECKOUT, fingerprint="fp-b")
    world.clock.advance(minutes=5)
    assert world.buy("tie", email="unknown@example.com").unmatched_reason is UnmatchedReason.TIE
    world.clock.advance(hours=2)
    assert world.buy("nobody", email="unknown@example.com").unmatched_reason is UnmatchedReason.NOT_SEEN
    assert world.buy("no-email").unmatched_reason is UnmatchedReason.NO_BUYER


def test_a_gift_on_a_shared_browser_keeps_the_students_first_visit(world: AttributionWorld) -> None:
    # The student finds the course on the family computer, opts in days later; the giver signs in there
    # too, then buys the course for the student: the sale names both, so the computer is not two people
    # for this sale, and its first visit is the student's.
    world.visit("family001", "youtube")
    world.clock.advance(days=3)
    world.visit("family001", "newsletter")
    world.identify("family001", "student@example.com")
    world.clock.advance(days=2)
    world.visit("family001", "google")
    world.identify("family001", "giver@example.com")
    world.clock.advance(hours=1)
    purchase = world.buy("gift", email="giver@example.com", recipient_email="student@example.com")
    assert purchase.match_method is MatchMethod.EMAIL
    assert world.credited("gift") == {"first_touch": "YouTube", "last_touch": "Google"}
    # a sale naming only one of them still sees two people on that computer
    world.clock.advance(hours=1)
    world.buy("own", email="giver@example.com")
    assert world.credited("own")["first_touch"] == "Google"
