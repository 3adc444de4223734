from datetime import UTC, datetime, timedelta

from core.domain.channels import Channel
from core.domain.touches import touch_from_landing
from core.domain.visitors import Session, Visitor, normalize_email

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
OWN = frozenset({"example.com", "courses.example.net"})


def landing(url: str, referrer: str | None = None, at: datetime = T0):  # type: ignore[no-untyped-def]
    return touch_from_landing(url=url, referrer=referrer, occurred_at=at, own_domains=OWN)


def test_utm_parameters_and_click_ids_are_read_and_click_id_values_dropped() -> None:
    touch = landing("https://example.com/course?utm_source=yt&utm_medium=video&utm_campaign=launch&gclid=SECRET")
    assert (touch.source, touch.medium, touch.campaign, touch.click_id) == ("YouTube", "video", "launch", "gclid")
    assert touch.landing_page is not None
    assert "SECRET" not in touch.landing_page


def test_own_domains_and_payment_hosts_are_never_referrers() -> None:
    assert landing("https://example.com/thanks", "https://checkout.stripe.com/c/pay/cs_1").is_direct
    assert landing("https://example.com/", "https://www.example.com/blog").is_direct
    assert landing("https://example.com/", "https://courses.example.net/login").is_direct
    assert landing("https://example.com/", "https://sso.teachable.com/secure/1/checkout").is_direct
    assert landing("https://example.com/", "https://www.youtube.com/").source == "YouTube"


def test_android_app_referrers() -> None:
    assert landing("https://example.com/", "android-app://com.instagram.android/").source == "Instagram"


def test_a_session_continues_until_thirty_idle_minutes_or_a_new_campaign() -> None:
    youtube = landing("https://example.com/?utm_source=youtube")
    session = Session(visitor_id=1, touch=youtube, started_at=T0, last_seen_at=T0)
    assert session.continues_with(landing("https://example.com/page", at=T0 + timedelta(minutes=29)))
    assert not session.continues_with(landing("https://example.com/page", at=T0 + timedelta(minutes=31)))
    assert not session.continues_with(landing("https://example.com/?utm_source=ig", at=T0 + timedelta(minutes=1)))
    assert session.continues_with(landing("https://example.com/?utm_source=youtube", at=T0 + timedelta(minutes=1)))


def test_visitor_keeps_first_touch_and_last_non_direct_touch() -> None:
    visitor = Visitor(site_id=1, key="abcdefgh", first_seen_at=T0)
    youtube = landing("https://example.com/?utm_source=youtube")
    direct = landing("https://example.com/", at=T0 + timedelta(days=1))
    instagram = landing("https://example.com/?utm_source=ig", at=T0 + timedelta(days=2))
    for touch in (youtube, direct, instagram, landing("https://example.com/", at=T0 + timedelta(days=3))):
        visitor.record_touch(touch)
    assert visitor.first_touch == youtube
    assert visitor.last_touch == instagram
    assert visitor.last_touch.channel is Channel.ORGANIC_SOCIAL


def test_emails_are_trimmed_lower_cased_and_checked() -> None:
    assert normalize_email("  Buyer@Example.COM ") == "buyer@example.com"
    assert normalize_email("not-an-email") is None
    assert normalize_email("a@b") is None


def test_the_raw_utm_source_is_kept_next_to_the_source_it_names() -> None:
    from adapters.persistence.revenue_lines import lines_for
    from core.domain.visitor_counts import CountKey, Dimension, count_keys

    for raw in ("yt", "youtube", "YT", "  YouTube "):
        touch = landing(f"https://example.com/course?utm_source={raw}&utm_medium=video")
        assert (touch.source, touch.utm_source) == ("YouTube", raw.strip())
    untagged = landing("https://example.com/", "https://www.youtube.com/")
    assert (untagged.source, untagged.utm_source) == ("YouTube", None)
    # The per-day counts a source's "Tagged as" breakdown reads: one key per raw value of the source.
    assert CountKey(Dimension.SOURCE_TAGGED, "YouTube", value="yt") in count_keys(
        landing("https://example.com/?utm_source=yt")
    )
    assert CountKey(Dimension.SOURCE_TAGGED, "YouTube", value="") in count_keys(untagged)
    # And the revenue lines a credited purchase adds up under.
    purchase = {
        "id": 1,
        "user_id": 1,
        "currency": "USD",
        "purchased_at": T0,
        "amount": 1000,
        "email": "a@example.com",
        "visitor_id": 1,
        "attribution_status": "matched",
    }
    credit = {
        "model": "first_touch",
        "touch_source": "YouTube",
        "touch_channel": "Organic Video",
        "touch_medium": None,
        "touch_campaign": None,
        "touch_landing_page": "https://example.com/?utm_source=yt",
        "touch_utm_source": "yt",
    }
    lines = lines_for(purchase, 0, [credit, {**credit, "model": "last_touch", "touch_utm_source": None}])
    assert [(line["model"], line["utm_source"]) for line in lines] == [
        ("purchase", None),
        ("first_touch", "yt"),
        ("last_touch", ""),
    ]
