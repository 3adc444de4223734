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
- our own tables, in core/domain/source_tables.py: what the lists lack or get wrong for course creators
  (podcast apps, newsletters, webmail, ad click hosts, Google's products that are not its search), and the names.

Subdomains are matched deliberately: a search engine's host matches exactly (google.com is search,
docs.google.com is not), a social network, AI assistant, newsletter or podcast app matches with every
subdomain (de-de.facebook.com, anyone.substack.com).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

from core.domain.channels import Channel, Kind
from core.domain.source_tables import (
    AFFILIATE_MEDIUMS,
    AI_MEDIUMS,
    ANDROID_APPS,
    CLICK_IDS,
    COUNTRY,
    DISPLAY_MEDIUMS,
    DROPPED_NAMES,
    EMAIL_MEDIUMS,
    EXACT_HOSTS,
    GENERIC_SOURCES,
    NOT_SEARCH_HOSTS,
    ORGANIC_BY_KIND,
    OUR_HOSTS,
    PAID_MEDIUMS,
    PAID_UTM_ALIASES,
    PODCAST_MEDIUMS,
    RENAMED,
    SOCIAL_MEDIUMS,
    UTM_ALIASES,
    VIDEO_MEDIUMS,
    VIDEO_NAMES,
)

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
            if name in DROPPED_NAMES:
                continue
            source = _display_name(RENAMED.get(name, name))
            if kind is Kind.SEARCH:
                # Google Images, Yandex Images, Seznam Videa...: the engine's own name.
                source = re.sub(r" (Images|Videos?|Videa)$", "", source)
                source = "Google" if source.startswith("Google ") else source
            source_kind = Kind.VIDEO if name in VIDEO_NAMES else kind
            for host in hosts:
                if kind is Kind.SEARCH and host in NOT_SEARCH_HOSTS:
                    continue
                add(host, source, source_kind, subdomains=kind is not Kind.SEARCH)
    for kind, sources in OUR_HOSTS.items():
        for source, hosts in sources.items():
            for host in hosts:
                exact = kind is Kind.SEARCH or host in EXACT_HOSTS
                add(host, source, kind, subdomains=not exact)
    kinds.update(GENERIC_SOURCES)
    for kind, sources in OUR_HOSTS.items():  # our word on what a source usually is, over the lists'
        for source in sources:
            if kind in (Kind.PAID_SEARCH, Kind.DISPLAY):
                kinds.setdefault(source, kind)  # Google's ad hosts do not make Google an ad network
            else:
                kinds[source] = kind
    names = {_squeeze(source): source for source in kinds}
    for source in ANDROID_APPS.values():
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
    return ANDROID_APPS.get(package.strip()) or ANDROID_APPS.get(package.strip().lower())


def title_case(value: str) -> str:
    """An unknown utm_source as a name, the same however it was typed: separators become spaces and each
    word is capitalised ("partner-blog", "Partner_Blog" and "PARTNER BLOG" are all "Partner Blog")."""
    words = re.split(r"[\s_\-+]+", value.strip())
    return " ".join(w[:1].upper() + w[1:].lower() for w in words if w)[:200]


def canonical_utm_source(utm_source: str) -> tuple[str, bool]:
    """(display name, whether the spelling itself says paid) for a utm_source value: `yt`, `youtube` and
    `YouTube` are all YouTube; a value naming nothing known is title-cased."""
    key = utm_source.strip().lower()
    if key in PAID_UTM_ALIASES:
        return PAID_UTM_ALIASES[key], True
    if key in UTM_ALIASES:
        return UTM_ALIASES[key], False
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
    if medium in DISPLAY_MEDIUMS:
        return Channel.DISPLAY
    if medium in AFFILIATE_MEDIUMS:
        return Channel.AFFILIATES
    if medium in EMAIL_MEDIUMS:
        return Channel.EMAIL
    if paid is not None or medium in PAID_MEDIUMS or medium.startswith(("paid", "cp")):
        if paid is not None and paid is not Channel.PAID_SEARCH:
            return paid
        if kind is Kind.VIDEO or "video" in medium:
            return Channel.PAID_VIDEO
        if kind is Kind.SOCIAL or "social" in medium:
            return Channel.PAID_SOCIAL
        return Channel.DISPLAY if kind is Kind.DISPLAY else Channel.PAID_SEARCH
    if medium in PODCAST_MEDIUMS:
        return Channel.PODCAST
    if medium in AI_MEDIUMS:
        return Channel.AI_ASSISTANTS
    if medium in SOCIAL_MEDIUMS:
        return Channel.ORGANIC_SOCIAL
    if medium in VIDEO_MEDIUMS:
        return Channel.ORGANIC_VIDEO
    if medium == "organic" and kind in (None, Kind.SEARCH, Kind.WEBSITE):
        return Channel.ORGANIC_SEARCH
    if kind is not None:
        return ORGANIC_BY_KIND[kind]
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
