"""A creator's own names for sources: map a source to another (`Ck` is ConvertKit), rename one, merge several.

Rules change how reports read, never what was recorded: visits and credits keep the source the classifier
gave them, and the report queries show each one under its rule's name (and channel, when the rule sets one).
So a rule applies to every report at once, past ranges included, and removing it restores the old names.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from core.domain.channels import Channel

MAX_NAME = 200
MAX_RULES = 200


class InvalidRule(ValueError):
    """`str(error)` is the sentence shown to the creator."""


@dataclass(frozen=True, slots=True)
class SourceRule:
    match: str  # a source as recorded
    source: str  # the name reports show instead
    channel: Channel | None = None  # the channel reports show, when the creator sets one

    @property
    def renames(self) -> bool:
        return self.match != self.source


def _name(value: str, what: str) -> str:
    name = " ".join(value.split())
    if not name:
        raise InvalidRule(f"Give the {what}.")
    if len(name) > MAX_NAME:
        raise InvalidRule(f"The {what} can be at most {MAX_NAME} characters long.")
    return name


def make_rule(match: str, source: str, channel: str | None = None) -> SourceRule:
    """A rule from what the creator typed; raises InvalidRule saying what to change."""
    match = _name(match, "source to rename")
    target = _name(source, "name to show") if source.strip() else match
    chosen: Channel | None = None
    if channel:
        try:
            chosen = Channel(channel)
        except ValueError:
            raise InvalidRule("Choose one of the listed channels.") from None
    if target == match and chosen is None:
        raise InvalidRule(f"“{match}” already shows as “{match}”: give another name or choose a channel.")
    return SourceRule(match, target, chosen)


def with_rule(rules: Sequence[SourceRule], new: SourceRule) -> list[SourceRule]:
    """The rules once `new` is added: one rule per recorded source, the latest winning, and every rule
    pointing at a final name, so a report applies each rule once:
    - adding `Ck -> ConvertKit` when `ConvertKit -> Kit` exists stores `Ck -> Kit` (merged into what it became);
    - renaming `ConvertKit -> Kit` carries along the sources merged into ConvertKit before;
    - turning a merge around (`Kit -> ConvertKit` after `ConvertKit -> Kit`) replaces it;
    - a rule left mapping a source to itself with no channel means nothing and goes."""
    onward = next((r for r in rules if r.match == new.source and r.match != new.match), None)
    if onward is not None and onward.source == new.match:
        # `Kit -> ConvertKit` after `ConvertKit -> Kit`: the creator turned the merge around.
        rules, onward = without_rule(rules, onward.match), None
    if onward is not None:
        new = SourceRule(new.match, onward.source, new.channel or onward.channel)
    kept = []
    for rule in rules:
        if rule.match == new.match:
            continue
        if rule.source == new.match and new.renames:
            rule = replace(rule, source=new.source, channel=rule.channel or new.channel)
        kept.append(rule)
    kept.append(new)
    result = [r for r in kept if r.renames or r.channel is not None]
    if len(result) > MAX_RULES:
        raise InvalidRule(f"An account can keep at most {MAX_RULES} rules; remove one you no longer need.")
    return sorted(result, key=lambda r: (r.source.lower(), r.match.lower()))


def without_rule(rules: Sequence[SourceRule], match: str) -> list[SourceRule]:
    return [r for r in rules if r.match != match]


def shown_as(rules: Iterable[SourceRule], source: str) -> str:
    return next((r.source for r in rules if r.match == source), source)


def recorded_as(rules: Iterable[SourceRule], shown: str) -> list[str]:
    """The recorded sources a report shows under `shown`: those a rule maps to it, and `shown` itself unless
    a rule renamed it away."""
    rules = list(rules)
    found = [r.match for r in rules if r.source == shown]
    if not any(r.match == shown and r.renames for r in rules) and shown not in found:
        found.append(shown)
    return sorted(found)
