"""A creator's source rules: list, add (map, rename, merge) and remove them. Reports apply them when read."""

from __future__ import annotations

from collections.abc import Callable

from core.domain.source_rules import SourceRule, make_rule, with_rule, without_rule
from core.ports.uow import UnitOfWork


class SourceRules:
    def __init__(self, uow: Callable[[], UnitOfWork]) -> None:
        self._uow = uow

    def rules(self, account_id: int) -> list[SourceRule]:
        with self._uow() as uow:
            return uow.source_rules.for_account(account_id)

    def add(self, account_id: int, match: str, source: str, channel: str | None = None) -> list[SourceRule]:
        """Show the recorded source `match` as `source` (and in `channel`) in every report from now on,
        past ranges included; raises InvalidRule with the sentence to show."""
        rule = make_rule(match, source, channel)
        with self._uow() as uow:
            rules = with_rule(uow.source_rules.for_account(account_id), rule)
            uow.source_rules.replace(account_id, rules)
            uow.commit()
        return rules

    def remove(self, account_id: int, match: str) -> list[SourceRule]:
        """Show `match` under its recorded name again."""
        with self._uow() as uow:
            rules = without_rule(uow.source_rules.for_account(account_id), match)
            uow.source_rules.replace(account_id, rules)
            uow.commit()
        return rules
