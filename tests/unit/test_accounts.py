"""The accounts use cases on in-memory fakes: signup, verification, login, passwords, address, deletion."""

from __future__ import annotations

import pytest

from core.domain.passwords import WeakPassword, check_password
from core.domain.subscriptions import trial_days_left
from core.services.accounts import (
    AccountError,
    Accounts,
    EmailNotVerified,
    InvalidLink,
    LoginFailed,
    WrongPassword,
)
from tests.unit.fakes import (
    FakeLinks,
    FakePasswordHasher,
    FakeSignedTokens,
    FakeUnitOfWork,
    FixedClock,
    RecordingMailer,
    Store,
)

PASSWORD = "correct horse battery staple"
ADDRESS = "creator@example.com"


class World:
    def __init__(self) -> None:
        self.store = Store()
        self.clock = FixedClock()
        self.hasher = FakePasswordHasher()
        self.mailer = RecordingMailer()
        self.accounts = Accounts(
            lambda: FakeUnitOfWork(self.store),
            self.clock,
            hasher=self.hasher,
            mailer=self.mailer,
            tokens=FakeSignedTokens(self.clock),
            links=FakeLinks(),
        )

    def token_in_last_mail(self, address: str, prefix: str) -> str:
        text = self.mailer.to(address)[-1].text
        line = next(line for line in text.splitlines() if prefix in line)
        return line.split(prefix, 1)[1].strip()

    def signed_up(self, address: str = ADDRESS) -> int:
        self.accounts.signup(address, PASSWORD)
        account = self.accounts.verify_email(self.token_in_last_mail(address, "https://app.test/verify/"))
        assert account.id is not None
        return account.id


@pytest.fixture
def world() -> World:
    return World()


def test_signup_mails_a_link_that_verifies_once_and_starts_the_trial(world: World) -> None:
    world.accounts.signup(" Creator@Example.com ", PASSWORD)
    [mail] = world.mailer.sent
    assert mail.to == ADDRESS
    assert "Confirm your email" in mail.subject
    token = world.token_in_last_mail(ADDRESS, "https://app.test/verify/")

    world.clock.advance(hours=5)
    account = world.accounts.verify_email(token)
    assert account.email_verified_at == world.clock.now()
    assert trial_days_left(account.trial_ends_at, world.clock.now()) == 14
    assert (account.trial_ends_at - world.clock.now()).days == 14  # type: ignore[operator]

    with pytest.raises(InvalidLink, match="already been used"):
        world.accounts.verify_email(token)


def test_a_verification_link_expires_after_three_days(world: World) -> None:
    world.accounts.signup(ADDRESS, PASSWORD)
    token = world.token_in_last_mail(ADDRESS, "https://app.test/verify/")
    world.clock.advance(days=3, seconds=1)
    with pytest.raises(InvalidLink) as raised:
        world.accounts.verify_email(token)
    assert raised.value.expired


def test_a_forged_or_wrong_purpose_link_is_refused(world: World) -> None:
    world.accounts.signup(ADDRESS, PASSWORD)
    with pytest.raises(InvalidLink, match="not valid"):
        world.accounts.verify_email("garbage")
    world.accounts.request_password_reset(ADDRESS)
    reset_token = world.token_in_last_mail(ADDRESS, "https://app.test/reset/")
    with pytest.raises(InvalidLink):
        world.accounts.verify_email(reset_token)


def test_signup_with_a_taken_address_mails_the_owner_and_looks_the_same(world: World) -> None:
    world.signed_up()
    world.mailer.sent.clear()
    world.accounts.signup(ADDRESS, "another long passphrase")  # no error: nothing to learn for the caller
    [mail] = world.mailer.sent
    assert mail.subject == "Someone tried to sign up with your address"
    assert "https://app.test/reset" in mail.text
    assert len(world.store.accounts) == 1


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short", "at least 10"),
        ("password123", "most common"),
        ("qwertyuiop", "most common"),
        ("Password1234!", "most common"),
        ("aaaaaaaaaaaa", "too few characters"),
        ("creator12", "at least 10"),
        ("creatorcreator1", None),
        ("x" * 300, "at most"),
    ],
)
def test_password_policy(password: str, reason: str | None) -> None:
    if reason is None:
        check_password(password, "someone@example.com")
        return
    with pytest.raises(WeakPassword, match=reason):
        check_password(password, ADDRESS)


def test_a_password_built_from_the_address_is_refused() -> None:
    with pytest.raises(WeakPassword, match="email address"):
        check_password("Creator-ab", ADDRESS)


def test_weak_passwords_are_refused_at_signup_and_nothing_is_created(world: World) -> None:
    with pytest.raises(WeakPassword):
        world.accounts.signup(ADDRESS, "iloveyou123")
    assert world.store.accounts == {}
    assert world.mailer.sent == []


def test_login_failures_read_the_same_and_cost_a_hash_either_way(world: World) -> None:
    world.signed_up()
    before = world.hasher.verifications
    with pytest.raises(LoginFailed) as unknown:
        world.accounts.login("nobody@example.com", PASSWORD)
    assert world.hasher.verifications == before + 1  # the dummy hash, as long as a real one
    with pytest.raises(LoginFailed) as wrong:
        world.accounts.login(ADDRESS, "not the password at all")
    assert str(unknown.value) == str(wrong.value)
    assert world.accounts.login(ADDRESS, PASSWORD).account.email == ADDRESS


def test_an_unverified_account_cannot_log_in_and_gets_a_new_link(world: World) -> None:
    world.accounts.signup(ADDRESS, PASSWORD)
    with pytest.raises(EmailNotVerified):
        world.accounts.login(ADDRESS, PASSWORD)
    assert len(world.mailer.to(ADDRESS)) == 2


def test_login_rehashes_when_the_parameters_changed(world: World) -> None:
    account_id = world.signed_up()
    assert world.store.accounts[account_id].password_hash.startswith("fake-v1$")  # type: ignore[union-attr]
    world.hasher.version = 2
    world.accounts.login(ADDRESS, PASSWORD)
    assert world.store.accounts[account_id].password_hash.startswith("fake-v2$")  # type: ignore[union-attr]


def test_ending_sessions_moves_the_session_version(world: World) -> None:
    account_id = world.signed_up()
    assert world.accounts.session_is_current(account_id, 0) is not None
    world.accounts.end_all_sessions(account_id)
    assert world.accounts.session_is_current(account_id, 0) is None
    assert world.accounts.session_is_current(account_id, 1) is not None


def test_password_reset_works_once_and_ends_other_sessions(world: World) -> None:
    account_id = world.signed_up()
    world.accounts.request_password_reset(ADDRESS.upper())
    token = world.token_in_last_mail(ADDRESS, "https://app.test/reset/")
    with pytest.raises(WeakPassword):
        world.accounts.reset_password(token, "password1")
    account = world.accounts.reset_password(token, "a brand new passphrase")
    assert account.session_version == 1
    assert world.accounts.session_is_current(account_id, 0) is None
    world.accounts.login(ADDRESS, "a brand new passphrase")
    with pytest.raises(InvalidLink, match="already been used"):
        world.accounts.reset_password(token, "yet another passphrase")


def test_a_reset_link_expires_after_an_hour(world: World) -> None:
    world.signed_up()
    world.accounts.request_password_reset(ADDRESS)
    token = world.token_in_last_mail(ADDRESS, "https://app.test/reset/")
    world.clock.advance(hours=1, seconds=1)
    with pytest.raises(InvalidLink, match="expired"):
        world.accounts.check_reset_link(token)


def test_reset_for_an_unknown_address_sends_nothing_and_says_nothing(world: World) -> None:
    world.accounts.request_password_reset("nobody@example.com")
    world.accounts.request_password_reset("not an address")
    assert world.mailer.sent == []


def test_change_password_needs_the_current_one(world: World) -> None:
    account_id = world.signed_up()
    with pytest.raises(WrongPassword):
        world.accounts.change_password(account_id, "wrong wrong wrong", "a brand new passphrase")
    changed = world.accounts.change_password(account_id, PASSWORD, "a brand new passphrase")
    assert changed.session_version == 1
    world.accounts.login(ADDRESS, "a brand new passphrase")


def test_changing_the_address_takes_effect_when_the_new_inbox_confirms(world: World) -> None:
    account_id = world.signed_up()
    world.accounts.request_email_change(account_id, PASSWORD, "New@Example.com")
    assert world.store.accounts[account_id].email == ADDRESS
    token = world.token_in_last_mail("new@example.com", "https://app.test/account/email/")
    account = world.accounts.confirm_email_change(token)
    assert account.email == "new@example.com"
    assert world.mailer.to(ADDRESS)[-1].subject == "Your CourseSignal address was changed"
    world.accounts.login("new@example.com", PASSWORD)
    with pytest.raises(InvalidLink):
        world.accounts.confirm_email_change(token)


def test_changing_to_a_taken_address_tells_only_that_address(world: World) -> None:
    account_id = world.signed_up()
    world.signed_up("other@example.com")
    world.mailer.sent.clear()
    world.accounts.request_email_change(account_id, PASSWORD, "other@example.com")
    [mail] = world.mailer.sent
    assert mail.to == "other@example.com"
    assert "nothing was changed" in mail.text
    with pytest.raises(WrongPassword):
        world.accounts.request_email_change(account_id, "wrong wrong wrong", "third@example.com")
    with pytest.raises(AccountError, match="already your address"):
        world.accounts.request_email_change(account_id, PASSWORD, ADDRESS)


def test_deleting_an_account_removes_it_and_its_sites(world: World) -> None:
    account_id = world.signed_up()
    world.accounts.add_site(ADDRESS, ["example.com"])
    with pytest.raises(WrongPassword):
        world.accounts.delete_account(account_id, "wrong wrong wrong")
    world.accounts.delete_account(account_id, PASSWORD)
    assert world.store.accounts == {}
    assert world.store.sites == {}
    assert world.mailer.sent[-1].subject == "Your CourseSignal account was deleted"


def test_trial_days_left_round_up_and_stop_at_zero() -> None:
    from datetime import timedelta

    from core.domain.sites import Account

    clock = FixedClock()
    account = Account(email=ADDRESS, created_at=clock.now())
    assert trial_days_left(account.trial_ends_at, clock.now()) is None
    account.verify_email(clock.now())
    assert trial_days_left(account.trial_ends_at, clock.now() + timedelta(hours=1)) == 14
    assert trial_days_left(account.trial_ends_at, clock.now() + timedelta(days=13, hours=23)) == 1
    assert trial_days_left(account.trial_ends_at, clock.now() + timedelta(days=15)) == 0
    first_end = account.trial_ends_at
    account.verify_email(clock.now() + timedelta(days=3))  # a later address change does not restart the trial
    assert account.trial_ends_at == first_end


def test_mail_settings_come_from_the_environment(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from coursesignal.settings import Settings

    environ = {"COURSESIGNAL_INSTANCE_PATH": str(tmp_path), "COURSESIGNAL_SECRET_KEY": "k"}
    assert Settings.from_environ(environ).mail_backend == "outbox"
    assert Settings.from_environ(environ).outbox_path == tmp_path / "outbox"
    with_smtp = Settings.from_environ(
        {**environ, "COURSESIGNAL_SMTP_URL": "smtp://u:hunter2@mail.example.com:587?starttls=true"}
    )
    assert with_smtp.mail_backend == "smtp"
    assert "hunter2" not in repr(with_smtp)


def test_an_operator_made_account_signs_in_at_once_with_its_trial_running(world: World) -> None:
    account = world.accounts.create_verified_account("Demo@Example.com", PASSWORD)

    assert account.email == "demo@example.com"
    assert account.is_verified
    assert trial_days_left(account.trial_ends_at, world.clock.now()) == 14
    assert world.accounts.login("demo@example.com", PASSWORD).account.id == account.id
    assert world.mailer.sent == []


def test_an_operator_made_account_takes_neither_a_known_address_nor_a_weak_password(world: World) -> None:
    world.signed_up()
    with pytest.raises(ValueError, match="already has an account"):
        world.accounts.create_verified_account(ADDRESS, PASSWORD)
    with pytest.raises(WeakPassword):
        world.accounts.create_verified_account("other@example.com", "password")
