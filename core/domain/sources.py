"""Source and channel classification: where did a visit come from?

Table-driven and written from scratch (public referrer lists carry a GPL licence). The rules, in order:
a utm_source tag wins; then an ad click id; then the referrer's host; otherwise the visit is Direct.
Channels follow GA4's default channel group names.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Channel(StrEnum):
    PAID_SEARCH = "Paid Search"
    PAID_SOCIAL = "Paid Social"
    PAID_VIDEO = "Paid Video"
    DISPLAY = "Display"
    ORGANIC_SEARCH = "Organic Search"
    ORGANIC_SOCIAL = "Organic Social"
    ORGANIC_VIDEO = "Organic Video"
    EMAIL = "Email"
    REFERRAL = "Referral"
    AFFILIATES = "Affiliates"
    DIRECT = "Direct"


class _Kind(StrEnum):
    SEARCH = "search"
    SOCIAL = "social"
    VIDEO = "video"
    EMAIL = "email"


DIRECT = "Direct"


@dataclass(frozen=True, slots=True)
class Classification:
    source: str
    channel: Channel

    @property
    def is_direct(self) -> bool:
        return self.channel is Channel.DIRECT


# Canonical source name -> what kind of place it is.
_SOURCE_KINDS: dict[str, _Kind] = {
    "Google": _Kind.SEARCH,
    "Bing": _Kind.SEARCH,
    "DuckDuckGo": _Kind.SEARCH,
    "Yahoo": _Kind.SEARCH,
    "Yandex": _Kind.SEARCH,
    "Baidu": _Kind.SEARCH,
    "Ecosia": _Kind.SEARCH,
    "Brave": _Kind.SEARCH,
    "YouTube": _Kind.VIDEO,
    "Vimeo": _Kind.VIDEO,
    "Twitch": _Kind.VIDEO,
    "Instagram": _Kind.SOCIAL,
    "Facebook": _Kind.SOCIAL,
    "TikTok": _Kind.SOCIAL,
    "X": _Kind.SOCIAL,
    "LinkedIn": _Kind.SOCIAL,
    "Pinterest": _Kind.SOCIAL,
    "Reddit": _Kind.SOCIAL,
    "Threads": _Kind.SOCIAL,
    "Bluesky": _Kind.SOCIAL,
    "Quora": _Kind.SOCIAL,
    "Telegram": _Kind.SOCIAL,
    "WhatsApp": _Kind.SOCIAL,
    "Linktree": _Kind.SOCIAL,
    "Email": _Kind.EMAIL,
}

# Canonical source -> (utm_source spellings, spellings that themselves say the click was paid).
_UTM_SPELLINGS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "Google": (("google", "google.com", "googlesearch"), ("google_ads", "google-ads", "googleads", "gads", "adwords")),
    "Bing": (("bing", "bing.com", "microsoft"), ("bing_ads", "bing-ads", "bingads", "microsoft_ads", "msads")),
    "YouTube": (("youtube", "yt", "youtube.com", "youtu.be"), ("youtube_ads", "youtube-ads", "yt-ads", "yt_ads")),
    "Instagram": (("instagram", "ig", "insta", "instagram.com"), ("instagram_ads", "instagram-ads", "ig_ads")),
    "Facebook": (
        ("facebook", "fb", "facebook.com", "fcb", "meta"),
        (
            "facebook-ads",
            "facebook_ads",
            "fb-ads",
            "fb_ads",
            "fbads",
            "fbad",
            "facebook_ad",
            "facebook_feed_ad",
            "meta_ads",
            "meta-ads",
        ),
    ),
    "TikTok": (("tiktok", "tiktok.com", "tik.tok", "tt"), ("tiktok_ads", "tiktok-ads", "tiktokads")),
    "X": (("x", "twitter", "x.com", "twitter.com", "t.co"), ("twitter-ads", "twitter_ads", "x-ads")),
    "LinkedIn": (("linkedin", "linkedin.com", "lnkd.in", "li"), ("linkedin_ads", "linkedin-ads")),
    "Pinterest": (("pinterest", "pin", "pinterest.com"), ("pinterest_ads", "pinterest-ads")),
    "Reddit": (("reddit", "reddit.com"), ("reddit-ads", "reddit_ads")),
    "Email": (
        (
            "email",
            "e-mail",
            "newsletter",
            "mail",
            "mailchimp",
            "kit",
            "convertkit",
            "activecampaign",
            "klaviyo",
            "mailerlite",
        ),
        (),
    ),
    "DuckDuckGo": (("duckduckgo",), ()),
    "Yahoo": (("yahoo",), ()),
    "Yandex": (("yandex",), ()),
    "Baidu": (("baidu",), ()),
    "Ecosia": (("ecosia",), ()),
    "Vimeo": (("vimeo",), ()),
    "Twitch": (("twitch",), ()),
    "Threads": (("threads",), ()),
    "Bluesky": (("bluesky", "bsky"), ()),
    "Quora": (("quora",), ()),
    "Telegram": (("telegram",), ()),
    "WhatsApp": (("whatsapp",), ()),
    "Linktree": (("linktree", "linktr.ee"), ()),
}

# utm_source spelling (lower case) -> (canonical source, whether the spelling says paid).
_UTM_SOURCE_ALIASES: dict[str, tuple[str, bool]] = {
    spelling: (source, paid)
    for source, (organic, paid_spellings) in _UTM_SPELLINGS.items()
    for paid, spellings in ((False, organic), (True, paid_spellings))
    for spelling in spellings
}

# Referrer host (without "www.") -> canonical source. Matched on the host and each parent domain.
_REFERRER_HOSTS: dict[str, str] = {
    "bing.com": "Bing",
    "duckduckgo.com": "DuckDuckGo",
    "search.yahoo.com": "Yahoo",
    "yahoo.com": "Yahoo",
    "yandex.ru": "Yandex",
    "yandex.com": "Yandex",
    "baidu.com": "Baidu",
    "ecosia.org": "Ecosia",
    "search.brave.com": "Brave",
    "youtube.com": "YouTube",
    "youtu.be": "YouTube",
    "vimeo.com": "Vimeo",
    "twitch.tv": "Twitch",
    "instagram.com": "Instagram",
    "facebook.com": "Facebook",
    "fb.com": "Facebook",
    "fb.me": "Facebook",
    "messenger.com": "Facebook",
    "tiktok.com": "TikTok",
    "t.co": "X",
    "twitter.com": "X",
    "x.com": "X",
    "linkedin.com": "LinkedIn",
    "lnkd.in": "LinkedIn",
    "pinterest.com": "Pinterest",
    "pin.it": "Pinterest",
    "reddit.com": "Reddit",
    "threads.net": "Threads",
    "threads.com": "Threads",
    "bsky.app": "Bluesky",
    "quora.com": "Quora",
    "t.me": "Telegram",
    "web.telegram.org": "Telegram",
    "whatsapp.com": "WhatsApp",
    "linktr.ee": "Linktree",
    "mail.google.com": "Email",
    "outlook.live.com": "Email",
    "outlook.office.com": "Email",
    "outlook.office365.com": "Email",
    "mail.yahoo.com": "Email",
    "mail.proton.me": "Email",
    "app.kit.com": "Email",
}

# Search engines present under many country domains (google.co.uk, google.de, ...): matched by label.
_SEARCH_BRAND_LABELS = {"google": "Google", "bing": "Bing", "yahoo": "Yahoo", "yandex": "Yandex"}

# Android apps that open links report `android-app://<package>` as the referrer.
_ANDROID_APPS: dict[str, str] = {
    "com.google.android.youtube": "YouTube",
    "com.instagram.android": "Instagram",
    "com.facebook.katana": "Facebook",
    "com.facebook.orca": "Facebook",
    "com.zhiliaoapp.musically": "TikTok",
    "com.twitter.android": "X",
    "com.linkedin.android": "LinkedIn",
    "com.pinterest": "Pinterest",
    "com.reddit.frontpage": "Reddit",
    "com.google.android.gm": "Email",
    "com.microsoft.office.outlook": "Email",
    "com.google.android.googlequicksearchbox": "Google",
    "org.telegram.messenger": "Telegram",
    "com.whatsapp": "WhatsApp",
}

_PAID_MEDIUMS = frozenset(
    {
        "cpc",
        "ppc",
        "paid",
        "paidsearch",
        "paid_search",
        "paid-search",
        "paidsocial",
        "paid_social",
        "paid-social",
        "paid-video",
        "paid_video",
        "cpv",
        "cpa",
        "cpm_social",
        "ads",
        "ad",
        "sponsored",
    }
)
_DISPLAY_MEDIUMS = frozenset({"display", "banner", "cpm", "expandable", "interstitial"})
_EMAIL_MEDIUMS = frozenset({"email", "e-mail", "e_mail", "e mail", "newsletter"})
_AFFILIATE_MEDIUMS = frozenset({"affiliate", "affiliates", "partner"})
_SOCIAL_MEDIUMS = frozenset({"social", "social-network", "social-media", "sm", "social network", "organic_social"})
_VIDEO_MEDIUMS = frozenset({"video"})
_REFERRAL_MEDIUMS = frozenset({"referral", "link"})

# Ad click ids that prove a paid click, and the engine that issued them. fbclid, ttclid and li_fat_id
# are added to organic links too, so they only name the network.
PAID_CLICK_IDS: dict[str, str] = {
    "gclid": "Google",
    "gbraid": "Google",
    "wbraid": "Google",
    "msclkid": "Bing",
}
NETWORK_CLICK_IDS: dict[str, str] = {"fbclid": "Facebook", "ttclid": "TikTok", "li_fat_id": "LinkedIn"}
CLICK_ID_PARAMS = (*PAID_CLICK_IDS, *NETWORK_CLICK_IDS)

_ORGANIC_BY_KIND = {
    _Kind.SEARCH: Channel.ORGANIC_SEARCH,
    _Kind.SOCIAL: Channel.ORGANIC_SOCIAL,
    _Kind.VIDEO: Channel.ORGANIC_VIDEO,
    _Kind.EMAIL: Channel.EMAIL,
}


def _bare_host(host: str) -> str:
    host = host.strip().lower().rstrip(".")
    for prefix in ("www.", "m.", "l.", "lm.", "mobile."):
        if host.startswith(prefix) and host.count(".") >= 2:
            return host[len(prefix) :]
    return host


def source_for_host(host: str) -> str | None:
    """The canonical source for a referrer host, or None when the host is not a known place."""
    bare = _bare_host(host)
    labels = bare.split(".")
    for start in range(len(labels) - 1):
        known = _REFERRER_HOSTS.get(".".join(labels[start:]))
        if known:
            return known
    # google.co.uk, www.google.de, news.google.com: the brand label directly before the public suffix
    # (one or two labels long) names the engine.
    for index, label in enumerate(labels[:-1]):
        brand = _SEARCH_BRAND_LABELS.get(label)
        if brand and len(labels) - index - 1 <= 2:
            return brand
    return None


def source_for_android_app(package: str) -> str | None:
    return _ANDROID_APPS.get(package.strip().lower())


def canonical_utm_source(utm_source: str) -> tuple[str, bool]:
    """(canonical name, whether the spelling itself says paid) for a utm_source value."""
    key = utm_source.strip().lower()
    if key in _UTM_SOURCE_ALIASES:
        return _UTM_SOURCE_ALIASES[key]
    host_source = source_for_host(key) if "." in key else None
    if host_source:
        return host_source, False
    return key, False


def _channel_for(source: str, medium: str, paid_alias: bool) -> Channel:
    kind = _SOURCE_KINDS.get(source)
    if medium in _DISPLAY_MEDIUMS:
        return Channel.DISPLAY
    if medium in _AFFILIATE_MEDIUMS:
        return Channel.AFFILIATES
    if medium in _EMAIL_MEDIUMS:
        return Channel.EMAIL
    if paid_alias or medium in _PAID_MEDIUMS or medium.startswith(("paid", "cp")):
        if kind is _Kind.VIDEO or "video" in medium:
            return Channel.PAID_VIDEO
        if kind is _Kind.SOCIAL or "social" in medium:
            return Channel.PAID_SOCIAL
        return Channel.PAID_SEARCH
    if medium in _SOCIAL_MEDIUMS:
        return Channel.ORGANIC_SOCIAL
    if medium in _VIDEO_MEDIUMS:
        return Channel.ORGANIC_VIDEO
    if medium == "organic":
        return Channel.ORGANIC_SEARCH if kind is _Kind.SEARCH or kind is None else _ORGANIC_BY_KIND[kind]
    if kind is not None:
        return _ORGANIC_BY_KIND[kind]
    return Channel.REFERRAL


def classify(
    *,
    utm_source: str | None = None,
    utm_medium: str | None = None,
    click_ids: frozenset[str] = frozenset(),
    referrer_host: str | None = None,
    android_app: str | None = None,
) -> Classification:
    """Classify one landing. `referrer_host` must already exclude the creator's own and payment hosts."""
    medium = (utm_medium or "").strip().lower()
    if utm_source and utm_source.strip():
        source, paid_alias = canonical_utm_source(utm_source)
        paid_alias = paid_alias or any(PAID_CLICK_IDS.get(c) == source for c in click_ids)
        return Classification(source, _channel_for(source, medium, paid_alias))
    for click_id, engine in PAID_CLICK_IDS.items():
        if click_id in click_ids:
            return Classification(engine, Channel.PAID_SEARCH)
    referred = None
    if android_app:
        referred = source_for_android_app(android_app) or android_app.strip().lower()
    elif referrer_host:
        referred = source_for_host(referrer_host) or _bare_host(referrer_host)
    if referred is None:
        for click_id, network in NETWORK_CLICK_IDS.items():
            if click_id in click_ids:
                referred = network
                break
    if referred is not None:
        return Classification(referred, _channel_for(referred, medium, paid_alias=False))
    if medium:
        # A medium with no source (utm_medium=email on a newsletter link) still says something.
        channel = _channel_for("", medium, paid_alias=False)
        if channel is not Channel.REFERRAL:
            return Classification("Email" if channel is Channel.EMAIL else f"({medium})", channel)
    return Classification(DIRECT, Channel.DIRECT)
