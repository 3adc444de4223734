"""The vocabulary of where a visit came from: the channel a creator reads in her reports (GA4's default
channel group names, plus AI Assistants and Podcast), and the kind of place a known source is."""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    PAID_SEARCH = "Paid Search"
    PAID_SOCIAL = "Paid Social"
    PAID_VIDEO = "Paid Video"
    DISPLAY = "Display"
    ORGANIC_SEARCH = "Organic Search"
    ORGANIC_SOCIAL = "Organic Social"
    ORGANIC_VIDEO = "Organic Video"
    AI_ASSISTANTS = "AI Assistants"
    EMAIL = "Email"
    PODCAST = "Podcast"
    REFERRAL = "Referral"
    AFFILIATES = "Affiliates"
    DIRECT = "Direct"


class Kind(StrEnum):
    """What sort of place a known source is; with the medium, it decides the channel."""

    SEARCH = "search"
    SOCIAL = "social"
    VIDEO = "video"
    AI = "ai"
    EMAIL = "email"
    PODCAST = "podcast"
    PAID_SEARCH = "paid search"  # an ad click host: the visit was paid whatever the tags say
    DISPLAY = "display"
    WEBSITE = "website"  # a known name that is still a referral (Google Docs, Wikipedia)
