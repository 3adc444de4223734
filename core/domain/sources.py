"""Source and channel classification: where did a visit come from, named the way a creator knows it.

The rules, in order: a utm_source tag wins; then an ad click id; then the referrer's host (or the Android
app that opened the link); otherwise the visit is Direct. Channels follow GA4's default channel group names,
plus two GA4 lacks: AI Assistants and Podcast.

Which host is which place comes from maintained data, generated into core/domain/data/ by
bench/update_source_data.py (versions and licences in docs/tracking.md):
- Matomo's search engine, social network and AI assistant lists (CC0) name most places;
- the Public Suffix List (MPL-2.0) says where a host's registrable domain starts, so country domains fold
  into their network (pinterest.de is Pinterest) and a host on a shared suffix (google.blogspot.com) is
  nobody's subdomain;
- the tables below are ours: what the lists lack or get wrong for course creators (podcast apps,
  newsletters, webmail, ad click hosts, Google's products that are not its search), and the names.

Subdomains are matched deliberately: a search engine's host matches exactly (google.com is search,
docs.google.com is not), a social network, AI assistant, newsletter or podcast app matches with every
subdomain (de-de.facebook.com, anyone.substack.com).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib.resources import files


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


DIRECT = "Direct"


@dataclass(frozen=True, slots=True)
class Classification:
    source: str
    channel: Channel

    @property
    def is_direct(self) -> bool:
        return self.channel is Channel.DIRECT


@dataclass(frozen=True, slots=True)
class Place:
    """A known referrer: the source it stands for and what kind of place it is."""

    source: str
    kind: Kind
    subdomains: bool  # whether every subdomain of the host is the same place


# --- our own tables ---------------------------------------------------------------------------------------

# Hosts the maintained lists lack or that we name differently; they win over the lists. Every one matches its
# subdomains too, except where the host itself is a subdomain of a search engine (see `_EXACT_HOSTS`).
_OUR_HOSTS: dict[Kind, dict[str, tuple[str, ...]]] = {
    Kind.PODCAST: {
        "Apple Podcasts": ("podcasts.apple.com", "itunes.apple.com"),
        "Spotify": ("spotify.com", "spotify.link", "spoti.fi"),
        "Overcast": ("overcast.fm",),
        "Pocket Casts": ("pocketcasts.com", "pca.st"),
        "Castbox": ("castbox.fm",),
        "Castro": ("castro.fm",),
        "Podcast Addict": ("podcastaddict.com",),
        "Podbean": ("podbean.com",),
        "Player FM": ("player.fm",),
        "Google Podcasts": ("podcasts.google.com",),
        "iHeartRadio": ("iheart.com",),
        "Amazon Music": ("music.amazon.com",),
        "Pandora": ("pandora.com",),
        "Deezer": ("deezer.com",),
        "Audible": ("audible.com",),
    },
    Kind.EMAIL: {
        # Webmail: the newsletter's name is not in the referrer, only that it was read in a mailbox.
        "Email": (
            "mail.google.com",
            "inbox.google.com",
            "outlook.live.com",
            "outlook.office.com",
            "outlook.office365.com",
            "outlook.com",
            "mail.yahoo.com",
            "mail.yandex.com",
            "mail.proton.me",
            "mail.protonmail.com",
            "mail.aol.com",
            "mail.zoho.com",
            "e.mail.ru",
            "mail.gmx.net",
            "navigator.gmx.net",
            "mail.web.de",
            "webmail.orange.fr",
            "mail.163.com",
            "mail.qq.com",
            "www.icloud.com",
            "fastmail.com",
            "app.hey.com",
        ),
        # Newsletters: the platform's links and every publication on it are the one platform.
        "Substack": ("substack.com", "substackcdn.com"),
        "Beehiiv": ("beehiiv.com", "mail.beehiiv.com"),
        "ConvertKit": (
            "convertkit.com",
            "convertkit-mail.com",
            "convertkit-mail2.com",
            "convertkit-mail3.com",
            "convertkit-mail4.com",
            "ck.page",
            "kit.com",
            "kit.co",
        ),
        "Mailchimp": ("mailchimp.com", "mailchi.mp", "list-manage.com", "eepurl.com"),
        "MailerLite": ("mailerlite.com", "mlsend.com", "mailerlite.io"),
        "Klaviyo": ("klaviyo.com", "klclick.com", "klclick1.com", "klclick2.com", "klclick3.com"),
        "ActiveCampaign": ("activehosted.com", "activecampaign.com"),
        "Flodesk": ("flodesk.com",),
        "Ghost": ("ghost.io",),
        "Buttondown": ("buttondown.email", "buttondown.com"),
        "Constant Contact": ("constantcontact.com", "rs6.net"),
        "Brevo": ("brevo.com", "sendibt3.com", "sendinblue.com"),
        "AWeber": ("aweber.com",),
        "Drip": ("getdrip.com", "drip.com"),
    },
    Kind.SOCIAL: {
        "X": ("twitter.com", "x.com", "t.co", "tweetdeck.com"),
        "Facebook": ("facebook.com", "fb.com", "fb.me", "messenger.com", "m.me"),
        "Instagram": ("instagram.com",),
        "LinkedIn": ("linkedin.com", "lnkd.in"),
        "Pinterest": ("pinterest.com", "pin.it"),
        "Reddit": ("reddit.com", "redd.it"),
        "Threads": ("threads.net", "threads.com"),
        "Bluesky": ("bsky.app",),
        "Quora": ("quora.com",),
        "Telegram": ("t.me", "telegram.org", "telegram.me"),
        "WhatsApp": ("whatsapp.com", "wa.me"),
        "Linktree": ("linktr.ee",),
        "Stan": ("stan.store",),
        "Beacons": ("beacons.ai",),
        "Medium": ("medium.com",),
        "Tumblr": ("tumblr.com",),
        "Snapchat": ("snapchat.com",),
        "Skool": ("skool.com",),
        "Circle": ("circle.so",),
        "Product Hunt": ("producthunt.com",),
        "Hacker News": ("news.ycombinator.com",),
        "Slack": ("slack.com",),
        "TikTok": ("tiktok.com",),
    },
    Kind.VIDEO: {
        "YouTube": ("youtube.com", "youtu.be", "youtube-nocookie.com"),
        "Vimeo": ("vimeo.com",),
        "Twitch": ("twitch.tv",),
        "Dailymotion": ("dailymotion.com",),
        "Rumble": ("rumble.com",),
        "Wistia": ("wistia.com",),
        "Loom": ("loom.com",),
    },
    Kind.AI: {
        "ChatGPT": ("chatgpt.com", "chat.openai.com", "openai.com"),
        "Perplexity": ("perplexity.ai",),
        "Gemini": ("gemini.google.com", "bard.google.com", "aistudio.google.com"),
        "Claude": ("claude.ai",),
        "Copilot": ("copilot.microsoft.com", "copilot.cloud.microsoft"),
        "Meta AI": ("meta.ai",),
        "Grok": ("grok.com",),
        "DeepSeek": ("chat.deepseek.com",),
        "Mistral Le Chat": ("chat.mistral.ai",),
        "Phind": ("phind.com",),
        "Poe": ("poe.com",),
    },
    Kind.PAID_SEARCH: {
        "Google": ("googleadservices.com", "syndicatedsearch.goog"),
    },
    Kind.DISPLAY: {
        "Google": ("doubleclick.net", "googlesyndication.com", "safeframe.googlesyndication.com"),
        "Taboola": ("taboola.com",),
        "Outbrain": ("outbrain.com",),
    },
    Kind.WEBSITE: {
        # Google's products that are not its search: a link from a shared doc is a referral from that doc.
        "Google Docs": ("docs.google.com",),
        "Google Drive": ("drive.google.com",),
        "Google Classroom": ("classroom.google.com",),
        "Google Sites": ("sites.google.com",),
        "Google Groups": ("groups.google.com",),
        "Google Calendar": ("calendar.google.com",),
        "Google Meet": ("meet.google.com",),
        "Google Forms": ("forms.gle",),
        "Google Chat": ("chat.google.com",),
        "Google Translate": ("translate.google.com", "translate.goog"),
        "Google Play": ("play.google.com",),
        "Google Accounts": ("accounts.google.com",),
        "Wikipedia": ("wikipedia.org",),
        "Notion": ("notion.so", "notion.site"),
        "Teachable": ("teachable.com",),
        "Kajabi": ("mykajabi.com",),
        "Gumroad": ("gumroad.com",),
        "Udemy": ("udemy.com",),
        "Skillshare": ("skillshare.com",),
        "Eventbrite": ("eventbrite.com",),
        "Zoom": ("zoom.us",),
        "Microsoft Teams": ("teams.microsoft.com", "teams.live.com"),
    },
    Kind.SEARCH: {
        "Google": ("google.com", "google.{}", "news.google.com", "news.google.{}", "images.google.com"),
        "Bing": ("bing.com", "cn.bing.com"),
        "DuckDuckGo": ("duckduckgo.com",),
        "Brave": ("search.brave.com",),
        "Ecosia": ("ecosia.org",),
        "Kagi": ("kagi.com",),
        "Startpage": ("startpage.com",),
        "Qwant": ("qwant.com",),
        "Yahoo": ("search.yahoo.com", "{}.search.yahoo.com", "yahoo.com"),
    },
}

# Hosts of our tables that are subdomains of a search engine's domain or a shared one: they match exactly.
_EXACT_HOSTS = frozenset(
    {
        "yahoo.com",
        "google.com",
        "google.{}",
        "images.google.com",
        "bing.com",
        "cn.bing.com",
        "outlook.com",
        "www.icloud.com",
        "openai.com",
        "itunes.apple.com",
        "music.amazon.com",
    }
)

# Names in the maintained lists that creators know differently, and entries that are not places for them.
_RENAMED = {
    "Twitter": "X",
    "Yahoo!": "Yahoo",
    "Yahoo! Japan": "Yahoo Japan",
    "Vkontakte": "VK",
    "StackOverflow": "Stack Overflow",
    "Deepseek": "DeepSeek",
    "Le Chat": "Mistral Le Chat",
    "You": "You.com",
}
_DROPPED_NAMES = frozenset({"Google%2B", "Crawler", "mozbot"})
# Hosts some list calls a search engine only when the referrer carries a search keyword in its path, which a
# browser no longer sends across sites: from these hosts, a visit is a link in an article.
_NOT_SEARCH_HOSTS = frozenset({"www.cnn.com", "cnn.com", "wow.com", "{}.wow.com"})
# Matomo calls these social networks; for a creator they are video platforms (GA4 agrees).
_VIDEO_NAMES = frozenset({"YouTube", "Vimeo", "bilibili", "Niconico", "Twitcast", "Huya"})

# Android apps that open links report `android-app://<package>` as the referrer.
_ANDROID_APPS: dict[str, str] = {
    "com.google.android.youtube": "YouTube",
    "com.instagram.android": "Instagram",
    "com.facebook.katana": "Facebook",
    "com.facebook.orca": "Facebook",
    "com.facebook.lite": "Facebook",
    "com.zhiliaoapp.musically": "TikTok",
    "com.ss.android.ugc.trill": "TikTok",
    "com.twitter.android": "X",
    "com.linkedin.android": "LinkedIn",
    "com.pinterest": "Pinterest",
    "com.reddit.frontpage": "Reddit",
    "com.google.android.gm": "Email",
    "com.microsoft.office.outlook": "Email",
    "com.yahoo.mobile.client.android.mail": "Email",
    "com.google.android.googlequicksearchbox": "Google",
    "org.telegram.messenger": "Telegram",
    "com.whatsapp": "WhatsApp",
    "com.openai.chatgpt": "ChatGPT",
    "ai.perplexity.app.android": "Perplexity",
    "com.google.android.apps.bard": "Gemini",
    "com.anthropic.claude": "Claude",
    "com.spotify.music": "Spotify",
    "au.com.shiftyjelly.pocketcasts": "Pocket Casts",
    "com.bambuna.podcastaddict": "Podcast Addict",
    "fm.castbox.audiobook.radio.podcast": "Castbox",
    "com.substack.app": "Substack",
    "com.discord": "Discord",
    "com.Slack": "Slack",
}

# utm_source spellings that name a source some other way than its name or host (lower case).
_UTM_ALIASES: dict[str, str] = {
    "yt": "YouTube",
    "ig": "Instagram",
    "insta": "Instagram",
    "fb": "Facebook",
    "fcb": "Facebook",
    "meta": "Facebook",
    "tw": "X",
    "twitter": "X",
    "tt": "TikTok",
    "tik.tok": "TikTok",
    "li": "LinkedIn",
    "pin": "Pinterest",
    "bsky": "Bluesky",
    "googlesearch": "Google",
    "microsoft": "Bing",
    "email": "Email",
    "e-mail": "Email",
    "mail": "Email",
    "newsletter": "Email",
    "kit": "ConvertKit",
    "convert kit": "ConvertKit",
    "gpt": "ChatGPT",
    "openai": "ChatGPT",
    "chat.openai": "ChatGPT",
    "copilot": "Copilot",
    "bard": "Gemini",
    "apple podcasts": "Apple Podcasts",
    "itunes": "Apple Podcasts",
    "podcast": "Podcast",
    "podcasts": "Podcast",
}
# Spellings that themselves say the click was paid, with the network they name (lower case).
_PAID_UTM_ALIASES: dict[str, str] = {
    **dict.fromkeys(("google_ads", "google-ads", "googleads", "gads", "adwords"), "Google"),
    **dict.fromkeys(("bing_ads", "bing-ads", "bingads", "microsoft_ads", "msads"), "Bing"),
    **dict.fromkeys(("youtube_ads", "youtube-ads", "yt-ads", "yt_ads"), "YouTube"),
    **dict.fromkeys(("instagram_ads", "instagram-ads", "ig_ads"), "Instagram"),
    **dict.fromkeys(
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
        "Facebook",
    ),
    **dict.fromkeys(("tiktok_ads", "tiktok-ads", "tiktokads"), "TikTok"),
    **dict.fromkeys(("twitter-ads", "twitter_ads", "x-ads"), "X"),
    **dict.fromkeys(("linkedin_ads", "linkedin-ads"), "LinkedIn"),
    **dict.fromkeys(("pinterest_ads", "pinterest-ads"), "Pinterest"),
    **dict.fromkeys(("reddit-ads", "reddit_ads"), "Reddit"),
}
# A generic utm_source naming a channel rather than a place.
_GENERIC_SOURCES: dict[str, Kind] = {"Email": Kind.EMAIL, "Podcast": Kind.PODCAST}

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
_PODCAST_MEDIUMS = frozenset({"podcast", "podcasts", "audio"})
_AI_MEDIUMS = frozenset({"ai", "ai-assistant", "ai_assistant", "llm", "chatbot"})


@dataclass(frozen=True, slots=True)
class ClickId:
    network: str
    channel: Channel | None  # None: the network adds it to organic links too, so it only names the network


# Ad click ids: which network issued them and, when they prove a paid click, the channel.
CLICK_IDS: dict[str, ClickId] = {
    "gclid": ClickId("Google", Channel.PAID_SEARCH),
    "gbraid": ClickId("Google", Channel.PAID_SEARCH),
    "wbraid": ClickId("Google", Channel.PAID_SEARCH),
    "dclid": ClickId("Google", Channel.DISPLAY),
    "msclkid": ClickId("Bing", Channel.PAID_SEARCH),
    "yclid": ClickId("Yandex", Channel.PAID_SEARCH),
    "twclid": ClickId("X", Channel.PAID_SOCIAL),
    "ScCid": ClickId("Snapchat", Channel.PAID_SOCIAL),
    "epik": ClickId("Pinterest", Channel.PAID_SOCIAL),
    "rdt_cid": ClickId("Reddit", Channel.PAID_SOCIAL),
    "fbclid": ClickId("Facebook", None),
    "ttclid": ClickId("TikTok", None),
    "li_fat_id": ClickId("LinkedIn", None),
}
CLICK_ID_PARAMS = tuple(CLICK_IDS)

_ORGANIC_BY_KIND = {
    Kind.SEARCH: Channel.ORGANIC_SEARCH,
    Kind.SOCIAL: Channel.ORGANIC_SOCIAL,
    Kind.VIDEO: Channel.ORGANIC_VIDEO,
    Kind.AI: Channel.AI_ASSISTANTS,
    Kind.EMAIL: Channel.EMAIL,
    Kind.PODCAST: Channel.PODCAST,
    Kind.PAID_SEARCH: Channel.PAID_SEARCH,
    Kind.DISPLAY: Channel.DISPLAY,
    Kind.WEBSITE: Channel.REFERRAL,
}

COUNTRY = "{}"  # stands for a country code or a country's second-level suffix (co.uk, com.au) in a host


# --- the data ---------------------------------------------------------------------------------------------


def _data(name: str) -> str:
    return files("core.domain").joinpath("data", name).read_text(encoding="utf-8")


@dataclass(frozen=True, slots=True)
class _Suffixes:
    rules: frozenset[str]
    wildcards: frozenset[str]  # "*.ck" is stored as "ck"
    exceptions: frozenset[str]  # "!www.ck" is stored as "www.ck"
    icann: frozenset[str]  # the rules of the ICANN section (country suffixes are among these)


@cache
def _suffixes() -> _Suffixes:
    rules: set[str] = set()
    wildcards: set[str] = set()
    exceptions: set[str] = set()
    icann: set[str] = set()
    in_icann = False
    for raw in _data("public_suffix_list.dat").splitlines():
        line = raw.strip()
        if line.startswith("// ===BEGIN ICANN"):
            in_icann = True
        elif line.startswith("// ===END ICANN"):
            in_icann = False
        if not line or line.startswith("//"):
            continue
        rule = line.split()[0].encode("idna").decode("ascii") if not line.isascii() else line.split()[0]
        if rule.startswith("!"):
            exceptions.add(rule[1:])
        elif rule.startswith("*."):
            wildcards.add(rule[2:])
        else:
            rules.add(rule)
            if in_icann:
                icann.add(rule)
    return _Suffixes(frozenset(rules), frozenset(wildcards), frozenset(exceptions), frozenset(icann))


def public_suffix(host: str) -> str:
    """The host's public suffix by the Public Suffix List ("co.uk" for www.bbc.co.uk; "evil" for google.evil,
    by the list's rule that an unlisted top-level label is a suffix)."""
    data = _suffixes()
    labels = host.split(".")
    for start in range(len(labels)):
        candidate = ".".join(labels[start:])
        if candidate in data.exceptions:
            return ".".join(labels[start + 1 :])
        parent = ".".join(labels[start + 1 :])
        if start + 1 < len(labels) and parent in data.wildcards:
            return candidate
        if candidate in data.rules:
            return candidate
    return labels[-1]


def registrable_domain(host: str) -> str:
    """The suffix and the one label before it: what one owner registered (bbc.co.uk, google.blogspot.com)."""
    host = _normal_host(host)
    suffix = public_suffix(host)
    if host == suffix:
        return host
    owner = host[: -len(suffix) - 1].rsplit(".", 1)[-1]
    return f"{owner}.{suffix}"


def _is_country_suffix(suffix: str) -> bool:
    """de, co.uk, com.au: a country's own suffix, under which networks run their national sites."""
    labels = suffix.split(".")
    if suffix not in _suffixes().icann or not all(len(label) <= 3 for label in labels[:-1]):
        return False
    return len(labels[-1]) == 2 and labels[-1].isalpha() and len(labels) <= 2


def _normal_host(host: str) -> str:
    return host.strip().lower().rstrip(".")


def _display_name(name: str) -> str:
    """Names all in lower case (reddit, tumblr) start with a capital, like every other source."""
    return name[:1].upper() + name[1:] if name == name.lower() else name


@dataclass(frozen=True, slots=True)
class _Table:
    places: Mapping[str, Place]
    kinds: Mapping[str, Kind]  # source name -> the kind of place it usually is
    names: Mapping[str, str]  # a name squeezed to letters and digits -> the source's name


@cache
def _table() -> _Table:
    places: dict[str, Place] = {}
    kinds: dict[str, Kind] = {}

    def add(host: str, source: str, kind: Kind, subdomains: bool) -> None:
        places[_strip_www(host)] = Place(source, kind, subdomains)
        kinds.setdefault(source, kind)

    listed = json.loads(_data("referrers.json"))
    # Lowest precedence first: a later list overrides an earlier one for the same host.
    for list_kind, kind in (("search", Kind.SEARCH), ("social", Kind.SOCIAL), ("ai", Kind.AI)):
        for name, hosts in listed[list_kind].items():
            if name in _DROPPED_NAMES:
                continue
            source = _display_name(_RENAMED.get(name, name))
            if kind is Kind.SEARCH:
                # Google Images, Yandex Images, Seznam Videa...: the engine's own name.
                source = re.sub(r" (Images|Videos?|Videa)$", "", source)
                source = "Google" if source.startswith("Google ") else source
            source_kind = Kind.VIDEO if name in _VIDEO_NAMES else kind
            for host in hosts:
                if kind is Kind.SEARCH and host in _NOT_SEARCH_HOSTS:
                    continue
                add(host, source, source_kind, subdomains=kind is not Kind.SEARCH)
    for kind, sources in _OUR_HOSTS.items():
        for source, hosts in sources.items():
            for host in hosts:
                exact = kind is Kind.SEARCH or host in _EXACT_HOSTS
                add(host, source, kind, subdomains=not exact)
    kinds.update(_GENERIC_SOURCES)
    for kind, sources in _OUR_HOSTS.items():  # our word on what a source usually is, over the lists'
        for source in sources:
            if kind in (Kind.PAID_SEARCH, Kind.DISPLAY):
                kinds.setdefault(source, kind)  # Google's ad hosts do not make Google an ad network
            else:
                kinds[source] = kind
    names = {_squeeze(source): source for source in kinds}
    for source in _ANDROID_APPS.values():
        names.setdefault(_squeeze(source), source)
    return _Table(places, kinds, names)


def _strip_www(host: str) -> str:
    for prefix in ("www.", "www2.", "m.", "mobile.", "l.", "lm."):
        if host.startswith(prefix) and host.count(".") >= 2:
            return host[len(prefix) :]
    return host


def _squeeze(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


# --- looking things up ------------------------------------------------------------------------------------


def _candidates(host: str) -> list[tuple[str, int]]:
    """The host and its national spellings folded into the network's own: (host, labels of its suffix)."""
    suffix = public_suffix(host)
    suffix_labels = suffix.count(".") + 1
    found = [(host, suffix_labels)]
    if _is_country_suffix(suffix) and host != suffix:
        stem = host[: -len(suffix)]
        found += [(stem + COUNTRY, 1), (stem + "com", 1)]
    first, _, rest = host.partition(".")
    if len(first) == 2 and first.isalpha() and rest.count(".") >= 1:
        found.append((f"{COUNTRY}.{rest}", suffix_labels))
    return found


def place_for_host(host: str) -> Place | None:
    """The known place a referrer host belongs to, or None."""
    bare = _strip_www(_normal_host(host))
    if not bare:
        return None
    places = _table().places
    for candidate, suffix_labels in _candidates(bare):
        exact = places.get(candidate)
        if exact is not None:
            return exact
        labels = candidate.split(".")
        # Parents down to the registrable domain (never the bare suffix: blogspot.com hosts strangers).
        for start in range(1, len(labels) - suffix_labels):
            parent = places.get(".".join(labels[start:]))
            if parent is not None and parent.subdomains:
                return parent
    return None


def source_for_host(host: str) -> str | None:
    """The canonical source for a referrer host, or None when the host is not a known place."""
    place = place_for_host(host)
    return place.source if place else None


def referral_source(host: str) -> str:
    """The source an unknown referrer host is shown as: the host without www."""
    return _strip_www(_normal_host(host))


def source_for_android_app(package: str) -> str | None:
    return _ANDROID_APPS.get(package.strip()) or _ANDROID_APPS.get(package.strip().lower())


def title_case(value: str) -> str:
    """An unknown utm_source as a name, the same however it was typed: separators become spaces and each
    word is capitalised ("partner-blog", "Partner_Blog" and "PARTNER BLOG" are all "Partner Blog")."""
    words = re.split(r"[\s_\-+]+", value.strip())
    return " ".join(w[:1].upper() + w[1:].lower() for w in words if w)[:200]


def canonical_utm_source(utm_source: str) -> tuple[str, bool]:
    """(display name, whether the spelling itself says paid) for a utm_source value: `yt`, `youtube` and
    `YouTube` are all YouTube; a value naming nothing known is title-cased."""
    key = utm_source.strip().lower()
    if key in _PAID_UTM_ALIASES:
        return _PAID_UTM_ALIASES[key], True
    if key in _UTM_ALIASES:
        return _UTM_ALIASES[key], False
    known = _table().names.get(_squeeze(key))
    if known:
        return known, False
    if "." in key and " " not in key:
        host = key.split("/", 1)[0]
        place = place_for_host(host)
        if place:
            return place.source, False
    return title_case(utm_source) or DIRECT, False


def kind_of(source: str) -> Kind | None:
    return _table().kinds.get(source)


def _channel_for(kind: Kind | None, medium: str, paid: Channel | None) -> Channel:
    if medium in _DISPLAY_MEDIUMS:
        return Channel.DISPLAY
    if medium in _AFFILIATE_MEDIUMS:
        return Channel.AFFILIATES
    if medium in _EMAIL_MEDIUMS:
        return Channel.EMAIL
    if paid is not None or medium in _PAID_MEDIUMS or medium.startswith(("paid", "cp")):
        if paid is not None and paid is not Channel.PAID_SEARCH:
            return paid
        if kind is Kind.VIDEO or "video" in medium:
            return Channel.PAID_VIDEO
        if kind is Kind.SOCIAL or "social" in medium:
            return Channel.PAID_SOCIAL
        return Channel.DISPLAY if kind is Kind.DISPLAY else Channel.PAID_SEARCH
    if medium in _PODCAST_MEDIUMS:
        return Channel.PODCAST
    if medium in _AI_MEDIUMS:
        return Channel.AI_ASSISTANTS
    if medium in _SOCIAL_MEDIUMS:
        return Channel.ORGANIC_SOCIAL
    if medium in _VIDEO_MEDIUMS:
        return Channel.ORGANIC_VIDEO
    if medium == "organic" and kind in (None, Kind.SEARCH, Kind.WEBSITE):
        return Channel.ORGANIC_SEARCH
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
    # In the table's order, so two click ids on one link always give the same answer.
    paid_ids = [c for name, c in CLICK_IDS.items() if name in click_ids and c.channel is not None]
    if utm_source and utm_source.strip():
        source, paid_alias = canonical_utm_source(utm_source)
        paid = next((c.channel for c in paid_ids if c.network == source), None)
        if paid_alias and paid is None:
            paid = Channel.PAID_SEARCH
        return Classification(source, _channel_for(kind_of(source), medium, paid))
    if paid_ids:
        # A click id the ad network adds only to paid clicks says more than any referrer.
        first = paid_ids[0]
        return Classification(first.network, _channel_for(kind_of(first.network), medium, first.channel))
    referred: str | None = None
    kind: Kind | None = None
    if android_app:
        referred = source_for_android_app(android_app)
        kind = kind_of(referred) if referred else None
        referred = referred or android_app.strip().lower()
    elif referrer_host:
        place = place_for_host(referrer_host)
        referred, kind = (place.source, place.kind) if place else (referral_source(referrer_host), None)
    if referred is None:
        for name, click_id in CLICK_IDS.items():
            if name in click_ids:
                referred, kind = click_id.network, kind_of(click_id.network)
                break
    if referred is not None:
        return Classification(referred, _channel_for(kind, medium, None))
    if medium:
        # A medium with no source (utm_medium=email on a newsletter link) still says something.
        channel = _channel_for(None, medium, None)
        if channel is not Channel.REFERRAL:
            generic = {Channel.EMAIL: "Email", Channel.PODCAST: "Podcast"}.get(channel)
            return Classification(generic or f"({medium})", channel)
    return Classification(DIRECT, Channel.DIRECT)
