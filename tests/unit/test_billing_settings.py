"""Billing settings come from Stripe's own variable names and never show their secrets."""

from __future__ import annotations

from pathlib import Path

from coursesignal.settings import Settings


def test_stripe_settings_are_read_under_stripes_names_and_kept_out_of_repr(tmp_path: Path) -> None:
    settings = Settings.from_environ(
        {
            "COURSESIGNAL_INSTANCE_PATH": str(tmp_path),
            "COURSESIGNAL_SECRET_KEY": "k" * 40,
            "STRIPE_SECRET_KEY": "sk_test_abcdef",
            "STRIPE_WEBHOOK_SECRET": "whsec_abcdef",
            "STRIPE_PRICE_ID": "price_monthly",
            "COURSESIGNAL_STRIPE_API_BASE": "http://127.0.0.1:12111/",
        }
    )
    assert (settings.stripe_secret_key, settings.stripe_webhook_secret) == ("sk_test_abcdef", "whsec_abcdef")
    assert (settings.stripe_price_id, settings.stripe_api_base) == ("price_monthly", "http://127.0.0.1:12111")
    assert "sk_test_abcdef" not in repr(settings)
    assert "whsec_abcdef" not in repr(settings)


def test_without_stripe_settings_billing_is_off(tmp_path: Path) -> None:
    settings = Settings.from_environ({"COURSESIGNAL_INSTANCE_PATH": str(tmp_path), "STRIPE_SECRET_KEY": ""})
    assert settings.stripe_secret_key is None
    assert settings.stripe_webhook_secret is None
    assert settings.stripe_price_id is None
    assert settings.stripe_api_base is None
