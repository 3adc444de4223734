"""Money and times on pages, as people write them, by the account's locale and time zone (Babel)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from adapters.web.display import Display, locale_choices, time_zone_choices
from core.domain.display import DisplaySettings, InvalidDisplaySettings


@pytest.mark.parametrize(
    ("locale", "amount", "currency", "written"),
    [
        ("en_US", 3461100, "USD", "$34,611.00"),
        ("en_US", 12000, "JPY", "¥12,000"),
        ("de_DE", 123400, "EUR", "1.234,00\N{NO-BREAK SPACE}€"),
        ("en_GB", 99, "GBP", "£0.99"),
        ("en_US", -123450, "KWD", "-KWD123.450"),
        ("fr_FR", 123456, "EUR", "1\N{NARROW NO-BREAK SPACE}234,56\N{NO-BREAK SPACE}€"),
    ],
)
def test_money_is_written_the_way_the_locale_writes_it(locale: str, amount: int, currency: str, written: str) -> None:
    assert Display(DisplaySettings(locale)).money(amount, currency) == written


def test_times_are_shown_in_the_accounts_time_zone() -> None:
    moment = datetime(2026, 11, 19, 13, 0, tzinfo=UTC)
    assert Display(DisplaySettings()).when(moment) == "Nov 19, 2026, 1:00\N{NARROW NO-BREAK SPACE}PM"
    assert Display(DisplaySettings("de_DE", "Europe/Berlin")).when(moment) == "19.11.2026, 14:00"
    # Past midnight in Tokyo: the date moves with the zone.
    assert (
        Display(DisplaySettings("en_US", "Asia/Tokyo"))
        .when(datetime(2026, 11, 19, 16, tzinfo=UTC))
        .startswith("Nov 20, 2026")
    )
    assert Display(DisplaySettings()).day(date(2026, 11, 19)) == "Nov 19"


def test_percentages_and_missing_values() -> None:
    assert Display(DisplaySettings()).percent(0.4595) == "46.0%"
    assert Display(DisplaySettings("de_DE")).percent(0.5) == "50,0%"
    assert Display(DisplaySettings()).money(None, "USD") == "\N{EN DASH}"


def test_settings_refuse_what_does_not_exist() -> None:
    for bad in [("xx-YY", "UTC", None), ("en_US", "Mars/Olympus", None), ("en_US", "../etc/passwd", None)]:
        with pytest.raises(InvalidDisplaySettings):
            DisplaySettings(*bad)
    with pytest.raises(InvalidDisplaySettings):
        DisplaySettings("en_US", "UTC", "dollars")
    assert DisplaySettings() == DisplaySettings("en_US", "UTC", None)


def test_the_offered_choices_are_all_valid() -> None:
    for code, name in locale_choices():
        assert DisplaySettings(code).locale == code
        assert name
    zones = time_zone_choices()
    assert "Europe/Berlin" in zones
    assert "America/New_York" in zones
