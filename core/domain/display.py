"""How an account's pages write money and times: its locale, its time zone and the currency its reports use.

Only pages change with these: the API and CSV files keep money in the currency's units and times in UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.domain.money import normalize_currency

DEFAULT_LOCALE = "en_US"
DEFAULT_TIME_ZONE = "UTC"
_LOCALE = re.compile(r"^[a-z]{2,3}(_[A-Z][a-z]{3})?(_[A-Z]{2}|_[0-9]{3})?$")


class InvalidDisplaySettings(ValueError):
    """A locale, time zone or currency that does not exist."""


def is_time_zone(name: str) -> bool:
    if not name or name.startswith(("/", ".")) or ".." in name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


@dataclass(frozen=True, slots=True)
class DisplaySettings:
    locale: str = DEFAULT_LOCALE  # a CLDR locale id: en_US, de_DE, ja_JP
    time_zone: str = DEFAULT_TIME_ZONE  # an IANA zone: Europe/Berlin
    currency: str | None = None  # the reports' currency; None: the one most of the account's purchases are in

    def __post_init__(self) -> None:
        if not _LOCALE.match(self.locale):
            raise InvalidDisplaySettings(f"not a locale: {self.locale!r}")
        if not is_time_zone(self.time_zone):
            raise InvalidDisplaySettings(f"not a time zone: {self.time_zone!r}")
        if self.currency is not None:
            try:
                if normalize_currency(self.currency) != self.currency:
                    raise InvalidDisplaySettings(f"not an upper-case currency code: {self.currency!r}")
            except ValueError as error:
                raise InvalidDisplaySettings(str(error)) from error

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)
