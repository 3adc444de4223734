"""Money and times as a creator reads them, in the account's locale and time zone, with Babel:
`$34,611.00`, `¥12,000`, `1.234,00 €`; `Nov 19, 2026, 2:00 PM`.

Pages only. The API and the CSV files keep money in the currency's units and times in UTC (ISO 8601).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from zoneinfo import available_timezones

from babel import Locale
from babel.dates import format_date, format_skeleton, format_time
from babel.numbers import format_compact_currency, format_currency, format_percent

from core.domain.display import DisplaySettings
from core.domain.money import Money

NO_VALUE = "\N{EN DASH}"  # a cell with no value (a ratio over zero visitors)

# The locales offered in the settings: the languages course creators most often sell in, each in its own words.
LOCALES = [
    "en_US", "en_GB", "en_CA", "en_AU", "en_IN", "en_IE", "en_NZ", "de_DE", "de_AT", "de_CH", "fr_FR", "fr_CA",
    "es_ES", "es_MX", "it_IT", "nl_NL", "pt_BR", "pt_PT", "sv_SE", "da_DK", "nb_NO", "fi_FI", "pl_PL", "ja_JP",
]  # fmt: skip
CURRENCIES = ["USD", "EUR", "GBP", "CAD", "AUD", "NZD", "CHF", "SEK", "NOK", "DKK", "PLN", "INR", "BRL", "MXN", "JPY"]


@cache
def locale_choices() -> list[tuple[str, str]]:
    return [(code, Locale.parse(code).display_name or code) for code in LOCALES]


@cache
def time_zone_choices() -> list[str]:
    return sorted(zone for zone in available_timezones() if "/" in zone and not zone.startswith(("Etc/", "SystemV/")))


@dataclass(frozen=True, slots=True)
class Display:
    """Writes figures for one account's pages."""

    settings: DisplaySettings

    @property
    def _locale(self) -> Locale:
        return _locale(self.settings.locale)

    def money(self, amount: int | None, currency: str) -> str:
        if amount is None:
            return NO_VALUE
        return format_currency(Money(amount, currency).to_decimal(), currency, locale=self._locale)

    def axis_money(self, amount: int, currency: str) -> str:
        """A chart axis label, short: "$1.2K", "2,5 Mio. €"."""
        value = Money(amount, currency).to_decimal()
        return format_compact_currency(value, currency, locale=self._locale, fraction_digits=1)

    def percent(self, rate: float | None) -> str:
        return NO_VALUE if rate is None else format_percent(rate, "#,##0.0%", locale=self._locale)

    def when(self, moment: datetime) -> str:
        """A moment in the account's time zone: date and time, e.g. "Nov 19, 2026, 2:00 PM"."""
        local = moment.astimezone(self.settings.zone)
        pattern = str(self._locale.datetime_formats["medium"])
        return pattern.format(
            format_time(local, "short", locale=self._locale), format_date(local, "medium", locale=self._locale)
        )

    def day(self, value: date) -> str:
        """A calendar day, short: "Nov 19"."""
        return format_skeleton("MMMd", value, locale=self._locale)

    def long_day(self, value: date) -> str:
        return format_date(value, "medium", locale=self._locale)


@cache
def _locale(code: str) -> Locale:
    return Locale.parse(code)
