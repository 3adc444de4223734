import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.domain.channels import Channel
from core.domain.sources import canonical_utm_source, classify, kind_of, source_for_host


@pytest.fixture(autouse=True, scope="module")
def _data_loaded() -> None:
    # The maintained data loads on first use; load it before hypothesis starts timing examples.
    classify(referrer_host="www.google.com")


@pytest.mark.parametrize(
    ("host", "source"),
    [
        ("www.youtube.com", "YouTube"),
        ("m.youtube.com", "YouTube"),
        ("youtu.be", "YouTube"),
        ("l.instagram.com", "Instagram"),
        ("lm.facebook.com", "Facebook"),
        ("t.co", "X"),
        ("www.google.co.uk", "Google"),
        ("www.google.de", "Google"),
        ("mail.google.com", "Email"),
        ("news.ycombinator.com", "Hacker News"),
        ("blog.example.org", None),
    ],
)
def test_known_referrer_hosts(host: str, source: str | None) -> None:
    assert source_for_host(host) == source


@pytest.mark.parametrize(
    ("kwargs", "source", "channel"),
    [
        ({"utm_source": "yt"}, "YouTube", Channel.ORGANIC_VIDEO),
        ({"utm_source": "ig", "utm_medium": "social"}, "Instagram", Channel.ORGANIC_SOCIAL),
        ({"utm_source": "facebook-ads"}, "Facebook", Channel.PAID_SOCIAL),
        ({"utm_source": "fb", "utm_medium": "cpc"}, "Facebook", Channel.PAID_SOCIAL),
        ({"utm_source": "google", "utm_medium": "cpc"}, "Google", Channel.PAID_SEARCH),
        ({"utm_source": "newsletter", "utm_medium": "email"}, "Email", Channel.EMAIL),
        ({"utm_source": "partner-blog", "utm_medium": "affiliate"}, "Partner Blog", Channel.AFFILIATES),
        ({"utm_source": "podcast"}, "Podcast", Channel.PODCAST),
        ({"click_ids": frozenset({"gclid"})}, "Google", Channel.PAID_SEARCH),
        ({"click_ids": frozenset({"msclkid"})}, "Bing", Channel.PAID_SEARCH),
        ({"click_ids": frozenset({"fbclid"}), "referrer_host": "l.facebook.com"}, "Facebook", Channel.ORGANIC_SOCIAL),
        ({"referrer_host": "www.google.com"}, "Google", Channel.ORGANIC_SEARCH),
        ({"referrer_host": "blog.example.org"}, "blog.example.org", Channel.REFERRAL),
        ({"android_app": "com.google.android.youtube"}, "YouTube", Channel.ORGANIC_VIDEO),
        ({}, "Direct", Channel.DIRECT),
    ],
)
def test_classification_table(kwargs: dict[str, object], source: str, channel: Channel) -> None:
    result = classify(**kwargs)  # type: ignore[arg-type]
    assert (result.source, result.channel) == (source, channel)


@given(st.text(min_size=1, max_size=30).filter(str.strip), st.text(max_size=20))
def test_a_utm_source_always_wins_over_the_referrer(utm_source: str, medium: str) -> None:
    result = classify(utm_source=utm_source, utm_medium=medium, referrer_host="www.youtube.com")
    assert result.channel is not Channel.DIRECT
    with_other_referrer = classify(utm_source=utm_source, utm_medium=medium, referrer_host="t.co")
    assert result == with_other_referrer


@given(st.sampled_from(["fbclid", "ttclid", "li_fat_id"]), st.sampled_from([None, "l.facebook.com", "x.com"]))
def test_network_click_ids_never_mean_paid(click_id: str, referrer: str | None) -> None:
    result = classify(click_ids=frozenset({click_id}), referrer_host=referrer)
    assert result.channel not in (Channel.PAID_SEARCH, Channel.PAID_SOCIAL, Channel.PAID_VIDEO)


KNOWN = ["YouTube", "ChatGPT", "Apple Podcasts", "ConvertKit", "Hacker News", "Google", "Substack", "LinkedIn"]


@given(st.sampled_from(KNOWN), st.lists(st.booleans(), min_size=20, max_size=20), st.sampled_from(["", " ", "_", "-"]))
def test_any_spelling_of_a_known_name_is_that_source(name: str, upper: list[bool], separator: str) -> None:
    typed = "".join(c.upper() if u else c.lower() for c, u in zip(name, upper + [False] * len(name), strict=False))
    typed = typed.replace(" ", separator)
    assert canonical_utm_source(typed) == (name, False)


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _-", min_size=1, max_size=25))
def test_an_unknown_utm_source_reads_the_same_however_it_was_typed(value: str) -> None:
    source, _ = canonical_utm_source(value)
    assert canonical_utm_source(value.upper())[0] == canonical_utm_source(value.lower())[0] or kind_of(source)
    assert source == source.strip()
