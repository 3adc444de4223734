from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.domain.money import CurrencyMismatch, Money


def test_parses_major_units_into_minor_units() -> None:
    assert Money.from_decimal("49.00", "usd") == Money(4900, "USD")
    assert Money.from_decimal("1500", "JPY") == Money(1500, "JPY")
    assert Money.from_decimal("1.234", "KWD") == Money(1234, "KWD")


def test_refuses_fractions_of_a_minor_unit() -> None:
    with pytest.raises(ValueError, match="more decimals"):
        Money.from_decimal("1.005", "USD")


def test_never_sums_across_currencies() -> None:
    with pytest.raises(CurrencyMismatch):
        _ = Money(100, "USD") + Money(100, "EUR")


def test_amount_must_be_an_integer_and_currency_upper_case() -> None:
    with pytest.raises(TypeError):
        Money(1.5, "USD")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="upper-case"):
        Money(1, "usd")


@given(st.integers(min_value=-(10**12), max_value=10**12), st.sampled_from(["USD", "JPY", "KWD", "EUR"]))
def test_format_and_parse_round_trip(amount: int, currency: str) -> None:
    money = Money(amount, currency)
    assert Money.from_decimal(Decimal(money.format_major()), currency) == money


def test_pages_show_money_grouped_with_the_currencys_own_decimals() -> None:
    assert Money(123456789, "USD").display() == "1,234,567.89 USD"
    assert Money(1500000, "JPY").display() == "1,500,000 JPY"
    assert Money(-1234500, "KWD").display() == "-1,234.500 KWD"
    assert Money(99, "EUR").display() == "0.99 EUR"
    assert Money(123456789, "USD").format_major() == "1234567.89"  # files and the API stay plain
