"""The pure rules: identity segments and stitching, checkout timing, fingerprints, credit models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core.domain.attribution import Model, attribute, credited_touch, lookback_from_days
from core.domain.channels import Channel
from core.domain.checkout import TIE, CheckoutReach, checkout_candidate, is_checkout_url
from core.domain.fingerprints import fingerprint, network_of, salt_day
from core.domain.identities import (
    EmailClaim,
    Handoff,
    IdentityGraph,
    IdentityTouch,
    handoff_from_url,
    identity_touches,
    segments_of,
)
from core.domain.purchases import MatchMethod
from core.domain.touches import Touch

T0 = datetime(2026, 10, 1, 12, tzinfo=UTC)


def touch(source: str, at: datetime, channel: Channel = Channel.ORGANIC_VIDEO) -> Touch:
    return Touch(source=source, channel=channel, occurred_at=at)


DIRECT = Channel.DIRECT


# --- identities ----------------------------------------------------------------------------------


def test_a_visitor_without_email_is_one_open_segment() -> None:
    (segment,) = segments_of(1, [])
    assert (segment.starts, segment.ends, segment.email) == (None, None, None)


def test_the_first_email_owns_the_anonymous_visits_before_it() -> None:
    (segment,) = segments_of(1, [EmailClaim(1, "a@x.com", T0), EmailClaim(1, "a@x.com", T0 + timedelta(days=2))])
    assert segment.starts is None
    assert segment.covers(T0 - timedelta(days=30))
    assert segment.email == "a@x.com"


def test_a_new_email_on_a_shared_computer_starts_a_new_person_from_that_moment() -> None:
    later = T0 + timedelta(days=3)
    claims = [
        EmailClaim(1, "b@x.com", later),
        EmailClaim(1, "a@x.com", T0),
        EmailClaim(1, "a@x.com", later + timedelta(days=1)),
    ]
    nobody, first, second, third = segments_of(1, claims)
    # Without sessions known, each run starts at its first identify; before the first, the browser is nobody's.
    assert (nobody.email, nobody.starts, nobody.ends) == (None, None, T0)
    assert (first.email, first.starts, first.ends) == ("a@x.com", T0, later)
    assert (second.email, second.starts, second.ends) == ("b@x.com", later, later + timedelta(days=1))
    assert (third.email, third.ends) == ("a@x.com", None)


def test_on_a_shared_computer_each_email_starts_with_the_session_it_was_given_in() -> None:
    later = T0 + timedelta(days=3)
    claims = [EmailClaim(1, "a@x.com", T0), EmailClaim(1, "b@x.com", later)]
    sessions = [
        T0 - timedelta(days=5),
        T0 - timedelta(minutes=10),
        later - timedelta(hours=30),
        later - timedelta(minutes=4),
    ]
    nobody, a, b = segments_of(1, claims, sessions)
    assert (nobody.email, nobody.ends) == (None, T0 - timedelta(minutes=10))  # whose first visit it was is unknown
    assert (a.email, a.starts, a.ends) == ("a@x.com", T0 - timedelta(minutes=10), later - timedelta(minutes=4))
    assert (b.email, b.starts, b.ends) == ("b@x.com", later - timedelta(minutes=4), None)


def test_two_emails_in_one_session_cut_at_the_second_identify_not_before_the_first() -> None:
    claims = [EmailClaim(1, "a@x.com", T0), EmailClaim(1, "b@x.com", T0 + timedelta(minutes=5))]
    _, a, b = segments_of(1, claims, [T0 - timedelta(minutes=2)])
    assert (a.starts, a.ends) == (T0 - timedelta(minutes=2), T0 + timedelta(minutes=5))
    assert b.starts == T0 + timedelta(minutes=5)


def test_a_browser_that_gave_one_email_keeps_its_anonymous_visits_before_it() -> None:
    (segment,) = segments_of(1, [EmailClaim(1, "a@x.com", T0)], [T0 - timedelta(days=9)])
    assert (segment.starts, segment.ends, segment.email) == (None, None, "a@x.com")


def test_a_handoff_never_joins_two_different_emails() -> None:
    # A family computer (1, where a@ signed up) hands its visit to the school (2, where b@ signs in).
    claims = [EmailClaim(1, "a@x.com", T0), EmailClaim(2, "b@x.com", T0 + timedelta(hours=2))]
    graph = IdentityGraph([1, 2], claims, [Handoff(1, 2, T0 + timedelta(hours=1))])
    one, two = graph.segment_at(1, T0), graph.segment_at(2, T0)
    assert one is not None
    assert two is not None
    assert graph.identity_of(one) == [one]
    assert graph.identity_of(two) == [two]


def test_a_handoff_chain_stops_before_a_second_email_whatever_order_the_facts_came_in() -> None:
    claims = [EmailClaim(1, "a@x.com", T0), EmailClaim(3, "b@x.com", T0)]
    handoffs = [Handoff(1, 2, T0 + timedelta(minutes=1)), Handoff(2, 3, T0 + timedelta(minutes=2))]
    for ordered in (handoffs, handoffs[::-1]):
        graph = IdentityGraph([3, 2, 1], claims[::-1], ordered)
        one = graph.segment_at(1, T0)
        assert one is not None
        assert {s.visitor_id for s in graph.identity_of(one)} == {1, 2}  # the earlier hand-off joined first


def test_segments_sharing_an_email_are_one_identity_and_others_are_not() -> None:
    later = T0 + timedelta(days=3)
    claims = [EmailClaim(1, "a@x.com", T0), EmailClaim(1, "b@x.com", later), EmailClaim(2, "a@x.com", T0)]
    graph = IdentityGraph([1, 2], claims, [])
    a_on_shared = graph.segment_at(1, T0)
    b_on_shared = graph.segment_at(1, later)
    assert a_on_shared is not None
    assert b_on_shared is not None
    identity = graph.identity_of(a_on_shared)
    assert {(s.visitor_id, s.email) for s in identity} == {(1, "a@x.com"), (2, "a@x.com")}
    assert graph.identity_of(b_on_shared) == [b_on_shared]


def test_a_handoff_joins_the_segments_live_at_its_moment() -> None:
    graph = IdentityGraph([1, 2, 3], [], [Handoff(1, 2, T0)])
    one = graph.segment_at(1, T0)
    assert one is not None
    assert {s.visitor_id for s in graph.identity_of(one)} == {1, 2}


def test_identity_touches_keep_each_visitor_inside_its_segments() -> None:
    later = T0 + timedelta(days=3)
    graph = IdentityGraph([1], [EmailClaim(1, "a@x.com", T0), EmailClaim(1, "b@x.com", later)], [])
    segment_b = graph.segment_at(1, later)
    assert segment_b is not None
    touches = {1: [touch("YouTube", T0), touch("Instagram", later + timedelta(hours=1))]}
    assert [t.touch.source for t in identity_touches(graph.identity_of(segment_b), touches)] == ["Instagram"]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"https://school.example/p/x?_csv=visitor01.{int(T0.timestamp()) - 20}", "visitor01"),
        (f"https://school.example/p/x?_csv=visitor01.{int(T0.timestamp()) - 3600}", None),  # a stale, shared link
        ("https://school.example/p/x?_csv=visitor01.notatime", None),
        ("https://school.example/p/x?_csv=visitor01", None),
        ("https://school.example/p/x", None),
    ],
)
def test_a_handoff_is_read_from_a_fresh_landing_url_only(url: str, expected: str | None) -> None:
    assert handoff_from_url(url, T0) == expected


# --- checkout timing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://creator.example/offers/abc123/checkout", True),
        ("https://creator.example/checkout", True),
        ("https://checkout.stripe.com/c/pay/cs_test_1", True),
        ("https://buy.stripe.com/launch?client_reference_id=v1", True),
        ("https://pay.kajabi.com/offers/x", True),
        ("https://sso.teachable.com/secure/4242/checkout/777", True),
        ("https://creator.example/offers/abc123", True),
        ("https://creator.example/purchase?product_id=9", True),
        ("https://www.paypal.com/checkoutnow?token=x", True),
        ("https://creator.example/blog/why-checkout-pages-convert", False),
        ("https://creator.example/offers/abc123/thank-you", False),
        ("mailto:checkout.team@creator.example", False),
        ("https://creator.example/course", False),
        ("not a url at all", False),
    ],
)
def test_checkout_pages_are_recognised_by_host_or_path(url: str, expected: bool) -> None:
    assert is_checkout_url(url) is expected


def test_a_site_adds_its_own_checkout_paths() -> None:
    assert is_checkout_url("https://creator.example/Order/step-1", own_paths=("/order",))
    assert not is_checkout_url("https://creator.example/blog/order", own_paths=("/order",))
    assert not is_checkout_url("https://creator.example/order", own_paths=("",))


def reach(visitor: int, fp: str | None, minutes_before: float) -> CheckoutReach:
    return CheckoutReach(visitor, fp, T0 - timedelta(minutes=minutes_before))


def test_one_fingerprint_at_checkout_just_before_the_purchase_is_the_candidate() -> None:
    candidate = checkout_candidate([reach(1, "fp1", 5), reach(2, "fp2", 45)], T0)
    assert candidate == [reach(1, "fp1", 5)]


def test_two_fingerprints_at_checkout_are_a_tie_and_no_coin_is_tossed() -> None:
    assert checkout_candidate([reach(1, "fp1", 5), reach(2, "fp2", 9)], T0) is TIE


def test_a_reach_without_fingerprint_is_never_enough() -> None:
    assert checkout_candidate([reach(1, None, 5)], T0) is TIE


def test_one_browser_with_several_visitor_ids_is_still_one_candidate() -> None:
    candidate = checkout_candidate([reach(2, "fp1", 3), reach(1, "fp1", 8)], T0)
    assert candidate == [reach(1, "fp1", 8), reach(2, "fp1", 3)]


def test_reaches_after_the_purchase_or_outside_the_window_do_not_count() -> None:
    assert checkout_candidate([reach(1, "fp1", -2), reach(2, "fp2", 31)], T0) is None


# --- fingerprints ---------------------------------------------------------------------------------


def test_networks_are_a_slash_24_or_a_slash_48() -> None:
    assert network_of("203.0.113.77") == "203.0.113.0/24"
    assert network_of("::ffff:203.0.113.77") == "203.0.113.0/24"
    assert network_of("2001:db8:abcd:12::1") == "2001:db8:abcd::/48"
    assert network_of("nonsense") is None


def test_a_fingerprint_is_a_salted_hash_of_network_agent_and_language() -> None:
    ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/130"
    one = fingerprint(b"salt-1", address="203.0.113.77", user_agent=ua, language="en-US")
    assert one == fingerprint(b"salt-1", address="203.0.113.9", user_agent=ua, language="en-US")  # same /24
    assert one != fingerprint(b"salt-2", address="203.0.113.77", user_agent=ua, language="en-US")
    assert one != fingerprint(b"salt-1", address="203.0.114.77", user_agent=ua, language="en-US")
    assert one != fingerprint(b"salt-1", address="203.0.113.77", user_agent=ua, language="de-DE")
    assert one is not None
    assert "203" not in one
    assert len(one) == 32
    assert fingerprint(b"salt-1", address=None, user_agent=ua, language="en") is None
    assert salt_day(T0 + timedelta(hours=5)) == T0.replace(hour=0)


# --- credit models ---------------------------------------------------------------------------------


def test_first_touch_is_the_earliest_and_last_touch_the_last_non_direct() -> None:
    touches = [
        touch("YouTube", T0),
        touch("Instagram", T0 + timedelta(days=1)),
        touch("Direct", T0 + timedelta(days=2), DIRECT),
    ]
    bought = T0 + timedelta(days=3)
    assert credited_touch(Model.FIRST_TOUCH, touches, bought) == touches[0]
    assert credited_touch(Model.LAST_TOUCH, touches, bought) == touches[1]


def test_last_touch_is_direct_only_when_there_was_nothing_else() -> None:
    only = [touch("Direct", T0, DIRECT)]
    assert credited_touch(Model.LAST_TOUCH, only, T0 + timedelta(hours=1)) == only[0]


def test_touches_outside_the_lookback_or_after_the_purchase_never_count() -> None:
    bought = T0 + timedelta(days=100)
    touches = [
        touch("YouTube", T0),
        touch("Instagram", T0 + timedelta(days=20)),
        touch("Google", bought + timedelta(seconds=1)),
    ]
    assert credited_touch(Model.FIRST_TOUCH, touches, bought) == touches[1]
    assert credited_touch(Model.FIRST_TOUCH, touches, bought, lookback_from_days(120)) == touches[0]
    result = attribute([IdentityTouch(1, t) for t in touches], bought)
    assert result is not None
    assert [h.touch.source for h in result.history] == ["Instagram"]
    assert attribute([IdentityTouch(1, touches[2])], bought) is None


def test_the_lookback_window_is_bounded() -> None:
    with pytest.raises(ValueError, match="between"):
        lookback_from_days(0)


def test_each_method_has_a_confidence_and_stronger_methods_more_of_it() -> None:
    confidences = [m.confidence for m in MatchMethod]
    assert confidences == sorted(confidences, reverse=True)


def test_a_sites_own_checkout_paths_are_kept_as_lower_case_path_starts_and_travel_in_the_snippet() -> None:
    from core.domain.sites import Site, normalize_checkout_paths, tracking_snippet

    assert normalize_checkout_paths([" /Order ", "", "/buy-now", "/order"]) == ("/order", "/buy-now")
    for bad in ("order", "/", "/a b", "https://x.example/order"):
        with pytest.raises(ValueError, match="not the start of a path"):
            normalize_checkout_paths([bad])
    site = Site(1, "cs_key", ("example.com",), checkout_paths=("/order", "/buy-now"))
    assert 'data-checkout="/order,/buy-now"' in tracking_snippet("https://app.example", site)
    assert "data-checkout" not in tracking_snippet("https://app.example", Site(1, "cs_key", ("example.com",)))
