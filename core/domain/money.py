"""Money as an integer of the currency's smallest unit, the way Stripe counts it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

_CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")

# ISO 4217 currencies whose minor unit is not a hundredth. Everything else has two decimals.
_MINOR_UNIT_DIGITS = {
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "UYI": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
}


# The ISO 4217 currencies a sale can be paid in (no precious metals, fund or test codes), with the ones
# withdrawn since 2020 (HRK, SLL, CUC, ANG) so an older sale read again still counts.
KNOWN_CURRENCIES = frozenset(
    """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF
    CHF CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD
    HKD HNL HRK HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD
    LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP
    PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT
    TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG
    """.split()  # noqa: SIM905 - a block of codes reads better than 160 quoted items
)


class CurrencyMismatch(ValueError):
    """Two amounts in different currencies were combined; they are never summed."""


def normalize_currency(code: str) -> str:
    upper = code.strip().upper()
    if not _CURRENCY_CODE.match(upper):
        raise ValueError(f"not an ISO 4217 currency code: {code!r}")
    return upper


def is_known_currency(code: str) -> bool:
    return code in KNOWN_CURRENCIES


def minor_unit_digits(currency: str) -> int:
    return _MINOR_UNIT_DIGITS.get(currency, 2)


@dataclass(frozen=True, slots=True)
class Money:
    amount: int  # in the currency's smallest unit: cents for USD
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise TypeError("Money.amount is an integer of minor units")
        if normalize_currency(self.currency) != self.currency:
            raise ValueError(f"currency must be an upper-case ISO 4217 code, got {self.currency!r}")

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def from_decimal(cls, value: str | Decimal, currency: str) -> Money:
        """Parse a human amount such as "49.00" in major units; refuses fractions of a minor unit."""
        code = normalize_currency(currency)
        scaled = Decimal(value) * (10 ** minor_unit_digits(code))
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{value} {code} has more decimals than the currency allows")
        return cls(int(scaled), code)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def to_decimal(self) -> Decimal:
        return Decimal(self.amount).scaleb(-minor_unit_digits(self.currency))

    def format_major(self, *, grouped: bool = False) -> str:
        """The amount in major units with the currency's decimals, e.g. "1234.00", or "1,234.00" grouped
        (no symbol). Files and the API get it plain; people get it grouped."""
        digits = minor_unit_digits(self.currency)
        return f"{self.to_decimal():{',' if grouped else ''}.{digits}f}"

    def display(self) -> str:
        """The amount as a page shows it: grouped, with the currency code, e.g. "1,234.00 USD"."""
        return f"{self.format_major(grouped=True)} {self.currency}"
