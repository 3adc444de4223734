"""The beta program's use cases: operators invite or mark creators; members get 60 days free, ask for setup
help, answer the weekly feedback prompt and give (or withdraw) consent to be quoted. docs/beta.md."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from core.domain.beta import BETA_DAYS, BetaMember, FeedbackAnswer, SetupHelpRequest, beta_trial_end, clean_text
from core.domain.sites import Account
from core.domain.visitors import normalize_email
from core.ports.clock import Clock
from core.ports.mailer import Mail, Mailer
from core.ports.uow import UnitOfWork


class NotAMember(Exception):
    """Only beta members have the beta page and its requests."""


class BetaRequestRefused(Exception):
    """`str(error)` tells the creator why and what to do instead."""


def _join(uow: UnitOfWork, account: Account, member: BetaMember, now: datetime) -> None:
    """The account is in the beta: its free period runs 60 days from its trial's start (once it has one)."""
    assert account.id is not None
    member.join(account.id, now)
    uow.beta.save(member)
    if account.email_verified_at is not None:
        account.trial_ends_at = beta_trial_end(account.email_verified_at, account.trial_ends_at)


def start_trial(uow: UnitOfWork, account: Account, now: datetime) -> None:
    """The address is proven: the free trial starts, 60 days long when the address was invited to the beta
    (or the account was marked before it confirmed). The caller stores the account."""
    account.verify_email(now)
    if account.id is None:
        return
    member = uow.beta.for_account(account.id) or uow.beta.get_by_email(account.email)
    if member is not None and member.account_id in (None, account.id):
        _join(uow, account, member, now)


@dataclass(frozen=True, slots=True)
class Invited:
    member: BetaMember
    account: Account | None  # None: nobody signed up with the address yet
    new: bool  # False: the address (or account) was in the beta already; nothing changed


@dataclass(frozen=True, slots=True)
class BetaOverview:
    """What the operator console lists."""

    members: Sequence[BetaMember]
    setup_help: Sequence[SetupHelpRequest]
    feedback: Sequence[FeedbackAnswer]

    @property
    def joined(self) -> int:
        return sum(1 for m in self.members if m.account_id is not None)

    @property
    def open_setup_help(self) -> int:
        return sum(1 for r in self.setup_help if r.is_open)

    @property
    def testimonial_consents(self) -> int:
        return sum(1 for m in self.members if m.testimonial_consent_at is not None)


class Beta:
    def __init__(self, uow: Callable[[], UnitOfWork], clock: Clock, mailer: Mailer, signup_url: str) -> None:
        self._uow = uow
        self._clock = clock
        self._mailer = mailer
        self._signup_url = signup_url

    # --- the operator's side ---------------------------------------------------------------------

    def invite(self, email: str) -> Invited:
        """Invite an address before it signs up, or mark the account that has it as beta (its free period
        becomes 60 days from its trial's start). Inviting again changes nothing. ValueError: not an address."""
        address = normalize_email(email)
        if address is None:
            raise ValueError(f"not an email address: {email!r}")
        now = self._clock.now()
        with self._uow() as uow:
            account = uow.accounts.get_by_email(address)
            member = (uow.beta.for_account(account.id) if account and account.id else None) or uow.beta.get_by_email(
                address
            )
            if member is not None and (account is None or member.account_id == account.id):
                return Invited(member, account, new=False)
            if member is not None and member.account_id is not None:
                raise ValueError(f"{address} was invited for another account, which changed its address since")
            member = member or BetaMember(email=address, invited_at=now)
            if account is None:
                uow.beta.save(member)
            else:
                _join(uow, account, member, now)
                uow.accounts.update(account)
            uow.commit()
        self._mailer.send(self._invitation(address, account))
        return Invited(member, account, new=True)

    def _invitation(self, address: str, account: Account | None) -> Mail:
        if account is None:
            text = (
                f"You are invited to the CourseSignal beta: {BETA_DAYS} days free instead of 14, and help setting "
                f"up if you want it. Sign up with this address to take part:\n\n{self._signup_url}\n\n"
                "In return we ask for a few words of feedback each week, and, only if you agree, a testimonial."
            )
        else:
            ends = f" Your free period now ends on {account.trial_ends_at:%B %d, %Y}." if account.trial_ends_at else ""
            text = (
                f"Your CourseSignal account is now part of the beta: {BETA_DAYS} days free from the start of your "
                f"trial instead of 14.{ends} Open the Beta page in the app to book setup help or send feedback."
            )
        return Mail(to=address, subject="Welcome to the CourseSignal beta", text=text)

    def overview(self) -> BetaOverview:
        with self._uow() as uow:
            return BetaOverview(uow.beta.members(), uow.beta.setup_help_requests(), uow.beta.feedback())

    def close_setup_help(self, request_id: int) -> bool:
        """The operator helped: the request leaves the open list. False: no such open request."""
        with self._uow() as uow:
            closed = uow.beta.close_setup_help(request_id, self._clock.now())
            uow.commit()
        return closed

    # --- the member's side -----------------------------------------------------------------------

    def member(self, account_id: int) -> BetaMember | None:
        with self._uow() as uow:
            return uow.beta.for_account(account_id)

    def open_setup_help(self, account_id: int) -> SetupHelpRequest | None:
        with self._uow() as uow:
            return uow.beta.open_setup_help(account_id)

    def feedback_due(self, account_id: int) -> bool:
        """Whether the weekly feedback prompt shows to this account now (never to a creator outside the beta)."""
        member = self.member(account_id)
        return member is not None and member.feedback_due(self._clock.now())

    def _member_for_update(self, uow: UnitOfWork, account_id: int) -> BetaMember:
        member = uow.beta.for_account(account_id)
        if member is None:
            raise NotAMember(account_id)
        return member

    def request_setup_help(self, account_id: int, message: str) -> None:
        """Ask the operator for a setup call; one open request at a time."""
        with self._uow() as uow:
            self._member_for_update(uow, account_id)
            if uow.beta.open_setup_help(account_id) is not None:
                raise BetaRequestRefused("You already asked for setup help: we will write to you to book a time.")
            uow.beta.add_setup_help(account_id, clean_text(message), self._clock.now())
            uow.commit()

    def send_feedback(self, account_id: int, confusing: str, missing_report: str) -> None:
        """Store an answer to the weekly prompt; the prompt then rests for a week."""
        confusing, missing_report = clean_text(confusing), clean_text(missing_report)
        if not confusing and not missing_report:
            raise BetaRequestRefused("Write something in at least one of the two boxes, or dismiss the prompt.")
        with self._uow() as uow:
            member = self._member_for_update(uow, account_id)
            now = self._clock.now()
            uow.beta.add_feedback(account_id, confusing, missing_report, now)
            member.close_feedback_prompt(now)
            uow.beta.save(member)
            uow.commit()

    def dismiss_feedback(self, account_id: int) -> None:
        """Not this week: the prompt rests for a week."""
        with self._uow() as uow:
            member = self._member_for_update(uow, account_id)
            member.close_feedback_prompt(self._clock.now())
            uow.beta.save(member)
            uow.commit()

    def set_testimonial_consent(self, account_id: int, consent: bool) -> BetaMember:
        """Record consent to be quoted (with its date), or withdraw it (the withdrawal's date is kept)."""
        with self._uow() as uow:
            member = self._member_for_update(uow, account_id)
            now = self._clock.now()
            if consent:
                member.consent_to_testimonial(now)
            else:
                member.withdraw_testimonial(now)
            uow.beta.save(member)
            uow.commit()
        return member
