"""Collect validates an event with the schema's own field validators called directly (`_load_valid`), and
falls back to `CollectEventSchema.load` for anything those refuse, which then says what is wrong: the two
must give the same event for every payload the fast path takes, and the fast path must take what the
tracker sends."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from adapters.web.collect import _compiled_load, _load_valid, _schema

_ids = st.from_regex(r"[A-Za-z0-9_-]{8,64}", fullmatch=True)
_urls = st.sampled_from(
    [
        "https://example.com/",
        "http://localhost:8000/course?utm_source=yt",
        "https://example.com/" + "a" * 1980,
        "https://sub.example.co.uk:8443/p?q=1#top",
    ]
)
# What each field holds in an event the tracker would send...
_valid = {
    "s": st.from_regex(r"[A-Za-z0-9_-]{1,40}", fullmatch=True),
    "n": st.sampled_from(["pageview", "click", "identify"]),
    "i": _ids,
    "v": _ids,
    "u": _urls,
    "r": st.one_of(st.none(), _urls, st.just("")),
    "t": st.one_of(st.none(), st.text(max_size=300)),
    "e": st.one_of(st.none(), st.sampled_from(["ava@example.com", " Ava@Example.COM "])),
}
# ... and what a broken or hostile sender could put there instead: anything at all, or a value just outside
# the field's rules.
_junk = st.one_of(
    st.none(),
    st.integers(),
    st.booleans(),
    st.floats(allow_nan=False),
    st.lists(st.integers(), max_size=2),
    st.text(max_size=70),
)
_long_url = "https://example.com/" + "a" * 1981
_outside = {
    "s": ["", "a" * 41, "x\x00y"],
    "n": ["purchase", "PAGEVIEW", ""],
    "i": ["short", "a" * 65, "event 0001", "event0001\n"],
    "v": ["short", "a" * 65, "visitor 01", "visitor01\n"],
    "u": [_long_url, "ftp://example.com/", "example.com/course", "https://", "https://exa mple.com/", "javascript:x"],
    "r": [_long_url + "a" * 100, "x\x00y"],
    "t": ["a" * 301],
    "e": ["a" * 255, "ava", "ava@", "a b@example.com"],
}


@st.composite
def _payloads(draw: st.DrawFn) -> dict[str, Any]:
    """An event the tracker could send, then as often as not one or two of its fields made wrong or left out,
    and now and then a key of its own."""
    payload = {name: draw(valid) for name, valid in _valid.items()}
    for name in draw(st.lists(st.sampled_from(sorted(_valid)), max_size=2)):
        wrong = draw(st.integers(0, 4))
        if wrong == 0:
            payload.pop(name, None)
        elif wrong == 1:
            payload[name] = draw(_junk)
        else:
            payload[name] = draw(st.sampled_from(_outside[name]))
    if draw(st.booleans()):
        payload["x"] = draw(_junk)  # other keys are ignored, unread
    return payload


def _loaded(payload: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return dict(_schema.load(payload, unknown="exclude"))
    except ValidationError:
        return None


@settings(max_examples=1500, deadline=None)
@given(_payloads())
def test_the_fast_path_gives_the_schemas_event_or_leaves_the_payload_to_it(payload: dict[str, Any]) -> None:
    fast = _load_valid(payload)
    if fast is not None:
        assert fast == _loaded(payload)


@pytest.mark.parametrize(
    "payload",
    [
        {"s": "site-key-1", "n": "pageview", "i": "event0001", "v": "visitor01", "u": "https://example.com/"},
        {
            "s": "site-key-1",
            "n": "pageview",
            "i": "event0002",
            "v": "visitor01",
            "u": "https://example.com/course?utm_source=youtube",
            "r": "https://www.youtube.com/",
            "t": "My course",
        },
        {"s": "site-key-1", "n": "identify", "i": "event0003", "v": "visitor01", "u": "https://e.com/", "e": "a@b.co"},
        {"s": "site-key-1", "n": "click", "i": "event0004", "u": "https://example.com/", "r": None},
    ],
)
def test_what_the_tracker_sends_takes_the_fast_path(payload: dict[str, Any]) -> None:
    assert _load_valid(payload) is not None
    assert _load_valid(payload) == _loaded(payload)


def test_an_identify_without_an_email_is_left_to_the_schema() -> None:
    payload = {"s": "site-key-1", "n": "identify", "i": "event0003", "v": "visitor01", "u": "https://e.com/"}
    assert _load_valid(payload) is None
    assert _loaded(payload) is None


def test_a_field_of_another_kind_is_not_compiled_silently() -> None:
    from marshmallow import fields

    class WithANumber(type(_schema)):  # type: ignore[misc]
        count = fields.Integer()

    with pytest.raises(TypeError, match="count"):
        _compiled_load(WithANumber())


def test_a_field_with_processing_of_its_own_is_not_compiled_silently() -> None:
    from marshmallow import fields

    class WithProcessing(type(_schema)):  # type: ignore[misc]
        s = fields.String(required=True, post_load=[str.strip])

    with pytest.raises(TypeError, match="s:"):
        _compiled_load(WithProcessing())
