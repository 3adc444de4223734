"""Signing up, confirming the address, signing in and out, passwords, changing the address, deleting the account."""

from __future__ import annotations

import logging
from typing import Any

from dependency_injector.wiring import Provide, inject
from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import BooleanField, EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from adapters.web.known_devices import remember_device
from adapters.web.sessions import start_session
from core.domain.passwords import MAX_LENGTH, MIN_LENGTH, WeakPassword
from core.ports.billing import BillingUnavailable
from core.ports.mailer import MailError
from core.services.accounts import AccountError, Accounts, InvalidLink, WrongPassword
from core.services.privacy import Privacy

log = logging.getLogger(__name__)
blueprint = Blueprint("auth", __name__)

_MAIL_FAILED = "We could not send the email just now. Try again in a few minutes."
_EMAIL = [DataRequired("Enter your email address."), Length(max=254)]
_NEW_PASSWORD = [
    DataRequired("Choose a password."),
    Length(min=MIN_LENGTH, max=MAX_LENGTH, message=f"Use at least {MIN_LENGTH} characters."),
]
_PASSWORD = [DataRequired("Enter your password."), Length(max=MAX_LENGTH)]


class SignupForm(FlaskForm):  # type: ignore[misc]
    email = EmailField("Email", validators=_EMAIL, render_kw={"autocomplete": "email"})
    password = PasswordField(
        "Password",
        validators=_NEW_PASSWORD,
        description=f"At least {MIN_LENGTH} characters. A few unrelated words make a strong one.",
        render_kw={"autocomplete": "new-password"},
    )


class LoginForm(FlaskForm):  # type: ignore[misc]
    email = EmailField("Email", validators=_EMAIL, render_kw={"autocomplete": "username"})
    password = PasswordField("Password", validators=_PASSWORD, render_kw={"autocomplete": "current-password"})
    remember = BooleanField("Keep me signed in on this device for 30 days")


class EmailOnlyForm(FlaskForm):  # type: ignore[misc]
    email = EmailField("Email", validators=_EMAIL, render_kw={"autocomplete": "email"})


class NewPasswordForm(FlaskForm):  # type: ignore[misc]
    password = PasswordField("New password", validators=_NEW_PASSWORD, render_kw={"autocomplete": "new-password"})


class ChangePasswordForm(FlaskForm):  # type: ignore[misc]
    current_password = PasswordField(
        "Current password", validators=_PASSWORD, render_kw={"autocomplete": "current-password"}
    )
    new_password = PasswordField("New password", validators=_NEW_PASSWORD, render_kw={"autocomplete": "new-password"})


class ChangeEmailForm(FlaskForm):  # type: ignore[misc]
    new_email = EmailField("New email", validators=_EMAIL, render_kw={"autocomplete": "email"})
    password = PasswordField("Current password", validators=_PASSWORD, render_kw={"autocomplete": "current-password"})


class DeleteAccountForm(FlaskForm):  # type: ignore[misc]
    password = PasswordField("Current password", validators=_PASSWORD, render_kw={"autocomplete": "current-password"})
    confirm = StringField(
        'Type "delete" to confirm',
        validators=[DataRequired('Type "delete" to confirm.')],
        render_kw={"autocomplete": "off"},
    )


class PlainForm(FlaskForm):  # type: ignore[misc]
    """A form with nothing but its CSRF token: for buttons that change something (log out)."""


def _after_sign_in() -> Response:
    return redirect(url_for("onboarding.resume"))


# --- signup and verification ------------------------------------------------------------------------


@blueprint.route("/signup", methods=["GET", "POST"])
@inject
def signup(accounts: Accounts = Provide["services.accounts"]) -> Any:
    if current_user.is_authenticated:
        return _after_sign_in()
    form = SignupForm()
    if form.validate_on_submit():
        try:
            accounts.signup(form.email.data, form.password.data)
        except WeakPassword as error:
            form.password.errors.append(str(error))
        except AccountError as error:
            form.email.errors.append(str(error))
        except MailError:
            flash(_MAIL_FAILED, "error")
        else:
            # The same page whether or not the address already had an account.
            session["pending_email"] = form.email.data.strip()
            return redirect(url_for("auth.check_inbox"))
    return render_template("auth/signup.html", form=form)


@blueprint.get("/signup/check-inbox")
def check_inbox() -> Any:
    email = session.get("pending_email")
    return render_template("auth/check_inbox.html", email=email, form=EmailOnlyForm(data={"email": email}))


@blueprint.post("/verify/resend")
@inject
def resend_verification(accounts: Accounts = Provide["services.accounts"]) -> Any:
    form = EmailOnlyForm()
    if form.validate_on_submit():
        try:
            accounts.resend_verification(form.email.data)
        except MailError:
            flash(_MAIL_FAILED, "error")
        else:
            flash("If that address is waiting for confirmation, a new link is on its way.", "info")
        session["pending_email"] = form.email.data.strip()
    return redirect(url_for("auth.check_inbox"))


@blueprint.get("/verify/<token>")
@inject
def verify(token: str, accounts: Accounts = Provide["services.accounts"]) -> Any:
    try:
        account = accounts.verify_email(token)
    except InvalidLink as error:
        return render_template("auth/link_problem.html", message=str(error), resend=True, form=EmailOnlyForm()), 400
    start_session(account)
    flash("Your address is confirmed and your 14-day free trial has started. Let's set things up.", "success")
    return redirect(url_for("onboarding.resume"))


# --- login and logout ---------------------------------------------------------------------------------


@blueprint.route("/login", methods=["GET", "POST"])
@inject
def login(accounts: Accounts = Provide["services.accounts"]) -> Any:
    if current_user.is_authenticated:
        return _after_sign_in()
    form = LoginForm()
    if form.validate_on_submit():
        try:
            signed_in = accounts.login(form.email.data, form.password.data)
        except AccountError as error:
            flash(str(error), "error")
        except MailError:
            flash(_MAIL_FAILED, "error")
        else:
            start_session(signed_in.account, remember=bool(form.remember.data))
            response = _after_sign_in()
            remember_device(request, response, signed_in.account.email)
            return response
    return render_template("auth/login.html", form=form)


@blueprint.post("/logout")
@inject
def logout(accounts: Accounts = Provide["services.accounts"]) -> Response:
    if PlainForm().validate_on_submit() and current_user.is_authenticated:
        accounts.end_all_sessions(current_user.id)
    logout_user()
    session.clear()
    flash("You are signed out on every device.", "info")
    return redirect(url_for("auth.login"))


# --- password reset -----------------------------------------------------------------------------------


@blueprint.route("/reset", methods=["GET", "POST"])
@inject
def forgot_password(accounts: Accounts = Provide["services.accounts"]) -> Any:
    form = EmailOnlyForm()
    if form.validate_on_submit():
        try:
            accounts.request_password_reset(form.email.data)
        except MailError:
            flash(_MAIL_FAILED, "error")
        else:
            flash("If that address has an account, a reset link is on its way. It works for one hour.", "info")
            return redirect(url_for("auth.login"))
    return render_template("auth/forgot.html", form=form)


@blueprint.route("/reset/<token>", methods=["GET", "POST"])
@inject
def reset_password(token: str, accounts: Accounts = Provide["services.accounts"]) -> Any:
    try:
        account = accounts.check_reset_link(token)
    except InvalidLink as error:
        return render_template("auth/link_problem.html", message=str(error), reset=True, form=EmailOnlyForm()), 400
    form = NewPasswordForm()
    if form.validate_on_submit():
        try:
            account = accounts.reset_password(token, form.password.data)
        except WeakPassword as error:
            form.password.errors.append(str(error))
        except InvalidLink as error:
            return render_template("auth/link_problem.html", message=str(error), reset=True, form=EmailOnlyForm()), 400
        else:
            start_session(account)
            flash("Your password is changed, and every other session is signed out.", "success")
            response = _after_sign_in()
            remember_device(request, response, account.email)
            return response
    return render_template("auth/reset.html", form=form, email=account.email)


# --- the account page: password, address, deletion ----------------------------------------------------


def _account_page(**forms: Any) -> str:
    defaults = {
        "password_form": ChangePasswordForm(prefix="pw"),
        "email_form": ChangeEmailForm(prefix="em"),
        "delete_form": DeleteAccountForm(prefix="del"),
    }
    defaults.update(forms)
    return render_template("auth/account.html", **defaults)


@blueprint.get("/account")
@login_required
def account() -> Any:
    return _account_page()


@blueprint.post("/account/password")
@login_required
@inject
def change_password(accounts: Accounts = Provide["services.accounts"]) -> Any:
    form = ChangePasswordForm(prefix="pw")
    if form.validate_on_submit():
        try:
            changed = accounts.change_password(current_user.id, form.current_password.data, form.new_password.data)
        except WeakPassword as error:
            form.new_password.errors.append(str(error))
        except AccountError as error:
            form.current_password.errors.append(str(error))
        else:
            start_session(changed)
            flash("Your password is changed, and every other session is signed out.", "success")
            return redirect(url_for("auth.account"))
    return _account_page(password_form=form), 400


@blueprint.post("/account/email")
@login_required
@inject
def change_email(accounts: Accounts = Provide["services.accounts"]) -> Any:
    form = ChangeEmailForm(prefix="em")
    if form.validate_on_submit():
        try:
            accounts.request_email_change(current_user.id, form.password.data, form.new_email.data)
        except WrongPassword as error:
            form.password.errors.append(str(error))
        except AccountError as error:
            form.new_email.errors.append(str(error))
        except MailError:
            flash(_MAIL_FAILED, "error")
        else:
            flash("Check the new address's inbox: the change happens when you follow the link there.", "info")
            return redirect(url_for("auth.account"))
    return _account_page(email_form=form), 400


@blueprint.get("/account/email/<token>")
@inject
def confirm_email_change(token: str, accounts: Accounts = Provide["services.accounts"]) -> Any:
    try:
        account = accounts.confirm_email_change(token)
    except InvalidLink as error:
        return render_template("auth/link_problem.html", message=str(error)), 400
    except MailError:
        log.warning("address changed but the notice to the old address was not sent")
        account = None
    flash("Your new address is confirmed.", "success")
    if account is not None and current_user.is_authenticated and current_user.id == account.id:
        current_user.account = account
    return redirect(url_for("auth.account" if current_user.is_authenticated else "auth.login"))


@blueprint.post("/account/delete")
@login_required
@inject
def delete_account(privacy: Privacy = Provide["services.privacy"]) -> Any:
    form = DeleteAccountForm(prefix="del")
    if form.validate_on_submit():
        if form.confirm.data.strip().lower() != "delete":
            form.confirm.errors.append('Type the word "delete" to confirm.')
        else:
            try:
                # Ends the paid plan at Stripe first, so a deleted account is never charged again.
                privacy.erase_account(current_user.id, form.password.data)
            except AccountError as error:
                form.password.errors.append(str(error))
            except BillingUnavailable:
                flash(
                    "We could not reach Stripe to end your paid plan, so nothing was deleted. "
                    "Try again in a few minutes.",
                    "error",
                )
            except MailError:
                log.warning("account deleted but the goodbye mail was not sent")
                return _signed_out_after_deletion()
            else:
                return _signed_out_after_deletion()
    return _account_page(delete_form=form), 400


def _signed_out_after_deletion() -> Response:
    logout_user()
    session.clear()
    flash("Your account and all its data are deleted.", "info")
    return redirect(url_for("auth.signup"))
