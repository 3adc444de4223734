"""The one menu every signed-in page carries, the tabs of the sections that have more than one page, and
which entry the page being shown belongs to.

Addresses, not endpoints, place a page: it belongs to the entry whose address prefix it starts with (the
longest wins), so a page added later, like the Purchases list, is placed by its URL alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import request, url_for

# The Purchases list is served by the dashboard's blueprint at this address.
PURCHASES_PATH = "/purchases"


@dataclass(frozen=True)
class Link:
    label: str
    href: str
    current: bool


@dataclass(frozen=True)
class _Entry:
    label: str
    target: str  # an endpoint, or a path when it starts with "/"
    prefixes: tuple[str, ...]

    def href(self) -> str:
        return self.target if self.target.startswith("/") else url_for(self.target)


@dataclass(frozen=True)
class _Section(_Entry):
    tabs: tuple[_Entry, ...] = ()


_SECTIONS = (
    _Section("Dashboard", "dashboard.index", ("/dashboard",)),
    _Section("Purchases", PURCHASES_PATH, (PURCHASES_PATH, "/dashboard/purchases")),
    _Section("Connections", "connections.index", ("/connections",)),
    _Section(
        "Tracking",
        "sites.index",
        ("/sites", "/onboarding/snippet"),
        tabs=(
            _Entry("Your sites", "sites.index", ("/sites",)),
            _Entry("Tracking snippet", "onboarding.snippet", ("/onboarding/snippet",)),
        ),
    ),
    _Section("Billing", "billing.page", ("/billing",)),
    _Section(
        "Settings",
        "auth.account",
        ("/account", "/privacy", "/sources"),
        tabs=(
            _Entry("Account", "auth.account", ("/account",)),
            _Entry("Sources", "sources.index", ("/sources",)),
            _Entry("Privacy", "privacy.index", ("/privacy",)),
        ),
    ),
)


def _match(path: str, entries: tuple[_Entry, ...]) -> _Entry | None:
    best, length = None, 0
    for entry in entries:
        for prefix in entry.prefixes:
            if (path == prefix or path.startswith(prefix + "/")) and len(prefix) > length:
                best, length = entry, len(prefix)
    return best


def _links(entries: tuple[_Entry, ...], current: _Entry | None) -> list[Link]:
    return [Link(entry.label, entry.href(), entry is current) for entry in entries]


def main_menu() -> list[Link]:
    return _links(_SECTIONS, _match(request.path.rstrip("/") or "/", _SECTIONS))


def section_tabs() -> list[Link]:
    """The tabs of the current section, if it has several pages; none otherwise."""
    path = request.path.rstrip("/") or "/"
    section = _match(path, _SECTIONS)
    if not isinstance(section, _Section) or not section.tabs:
        return []
    return _links(section.tabs, _match(path, section.tabs))
