from core.domain.fingerprints import derived_visitor_key, is_derived_visitor_key
from core.domain.purchases import DERIVED_VISITOR_CONFIDENCE, MatchMethod, Purchase

UA = "Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0 Safari/537.36"


def test_one_browser_on_one_site_gets_one_id_per_salt_day() -> None:
    salt, next_salt = b"a" * 16, b"b" * 16
    key = derived_visitor_key(salt, address="203.0.113.9", user_agent=UA, site_key="cs_site")
    assert key is not None
    assert is_derived_visitor_key(key)
    assert key == derived_visitor_key(salt, address="203.0.113.9", user_agent=UA, site_key="cs_site")
    assert key != derived_visitor_key(next_salt, address="203.0.113.9", user_agent=UA, site_key="cs_site")
    assert key != derived_visitor_key(salt, address="203.0.113.10", user_agent=UA, site_key="cs_site")
    assert key != derived_visitor_key(salt, address="203.0.113.9", user_agent=UA, site_key="cs_other")
    assert derived_visitor_key(salt, address=None, user_agent=UA, site_key="cs_site") is None
    assert not is_derived_visitor_key("k3j4h5g6f7d8s9a0")


def test_a_match_through_a_derived_id_says_it_is_weaker() -> None:
    from datetime import UTC, datetime

    from core.domain.money import Money

    purchase = Purchase(1, "csv", "p1", Money(100, "USD"), datetime(2026, 1, 1, tzinfo=UTC))
    purchase.match(7, MatchMethod.EMAIL, derived_visitor=True)
    assert purchase.match_confidence == DERIVED_VISITOR_CONFIDENCE < MatchMethod.EMAIL.confidence
    purchase.match(7, MatchMethod.EMAIL)
    assert purchase.match_confidence == MatchMethod.EMAIL.confidence
