"""Staff sign-in (a password, then a code from an authenticator app when the account has one)
and sign-out, and turning the second factor on.

Between the password and the code the session holds only a pending sign-in: the account's id and
session nonce, when the password was accepted, and where to go afterwards. ``login_user`` is
called once the code is accepted, so a pending sign-in opens no staff page. It lapses after
``PORTAL_TOTP_PENDING_SECONDS``, and with any change of the account's nonce (sign-out everywhere,
disabling, a new password).
"""

from datetime import datetime

from cryptography.fernet import InvalidToken
from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user, user_logged_in

from portal.clock import utcnow
from portal.extensions import db, limiter, login_manager
from portal.forms import strip_nul
from portal.forms.auth import CodeForm, ConfirmedCodeForm, SignInForm
from portal.models.registry import StaffUser
from portal.security import is_safe_redirect_target, never_cache
from portal.services import totp
from portal.services.accounts import (
    authenticate,
    end_sessions,
    hasher_from_config,
    load_session_user,
    normalise_email,
    record_staff_action,
)

bp = Blueprint("auth", __name__, url_prefix="/auth")

PENDING_SIGN_IN = "pending_sign_in"
SET_UP_SECRET = "two_step_set_up"


STAFF_SESSION = "staff_session"  # {"since": epoch seconds, "seen": epoch seconds}
# Refreshing "seen" on every request would rewrite the cookie each time; once a minute will do.
SEEN_RESOLUTION_SECONDS = 60


@login_manager.user_loader
def load_user(session_user_id: str):
    """The signed-in account, unless its session is too old or has been idle too long."""
    user = load_session_user(session_user_id)
    stamps = session.get(STAFF_SESSION)
    if user is None or not stamps:
        return None
    now = utcnow().timestamp()
    config = current_app.config
    if (
        now - stamps["since"] > config["PORTAL_STAFF_SESSION_HOURS"] * 3600
        or now - stamps["seen"] > config["PORTAL_STAFF_IDLE_MINUTES"] * 60
    ):
        session.pop(STAFF_SESSION, None)
        return None
    if now - stamps["seen"] > SEEN_RESOLUTION_SECONDS:
        session[STAFF_SESSION] = {**stamps, "seen": now}
    return user


@user_logged_in.connect
def _start_staff_session(_app, user, **_extra) -> None:
    now = utcnow().timestamp()
    session[STAFF_SESSION] = {"since": now, "seen": now}


# Form tokens and second-factor secrets: never cached (see portal.security.never_cache).
bp.after_request(never_cache)


# -- throttling ---------------------------------------------------------------------------------
# The password and the code share the same limits: per address, and per account (keyed on the
# address typed on the password step, and on the pending account's on the code step), so wrong
# codes use up the same allowance as wrong passwords. Every attempt is counted before the view
# runs: counting only failures, after the response, let attempts sent at once all slip through.


def _account_key() -> str:
    if request.endpoint == "auth.sign_in":
        # Cleaned as the form cleans it: "a@b" followed by NULs is the same account.
        email = strip_nul(request.form.get("email", ""))
    else:
        user = _pending_user()
        email = user.email if user else ""
    return "sign-in:" + normalise_email(email)[:320]


def _sign_in_limits(view):
    by_address = limiter.shared_limit(
        lambda: current_app.config["PORTAL_RATELIMIT_SIGN_IN_ADDRESS"],
        scope="sign-in-address",
        methods=["POST"],
    )
    by_account = limiter.shared_limit(
        lambda: current_app.config["PORTAL_RATELIMIT_SIGN_IN_ACCOUNT"],
        scope="sign-in-account",
        methods=["POST"],
        key_func=_account_key,
    )
    return by_address(by_account(view))


# -- the pending sign-in ------------------------------------------------------------------------


def _start_code_step(user: StaffUser, target: str | None):
    """The password was right: record it, and ask for a code (or for the app to be set up)."""
    record_staff_action(
        "staff.password_accepted",
        user=user,
        now=utcnow(),
        secret_key=current_app.config["SECRET_KEY"],
        next_step="code" if user.totp_enabled else "set_up",
    )
    db.session.commit()  # the audit entry, and a rehashed password if its cost was old
    session.clear()  # nothing from before the sign-in carries over
    session[PENDING_SIGN_IN] = {
        "user_id": user.id,
        "nonce": user.session_nonce,
        "since": int(utcnow().timestamp()),
        "next": target,
    }
    next_page = "auth.enter_code" if user.totp_enabled else "auth.set_up_two_step"
    return redirect(url_for(next_page), code=303)


def _pending_user() -> StaffUser | None:
    """The account whose password was accepted in this session, unless that has lapsed."""
    pending = session.get(PENDING_SIGN_IN)
    if not isinstance(pending, dict):
        return None
    age = utcnow().timestamp() - pending.get("since", 0)
    if not 0 <= age <= current_app.config["PORTAL_TOTP_PENDING_SECONDS"]:
        return None
    return load_session_user(f"{pending.get('user_id')}:{pending.get('nonce')}")


def _sign_in_again():
    """Back to the password step when there is no pending sign-in, saying why if it lapsed."""
    pending = session.pop(PENDING_SIGN_IN, None)
    session.pop(SET_UP_SECRET, None)
    if not isinstance(pending, dict):
        return redirect(url_for("auth.sign_in"), code=303)
    flash(_("For your security, sign-in has timed out. Sign in again."), "error")
    return redirect(url_for("auth.sign_in", next=pending.get("next")), code=303)


def _complete_sign_in(user: StaffUser, target: str | None, *, second_factor: str):
    """Record the sign-in, start a fresh session for the account and go to ``target`` (a path on
    this site) or the workspace."""
    record_staff_action(
        "staff.signed_in",
        user=user,
        now=utcnow(),
        secret_key=current_app.config["SECRET_KEY"],
        second_factor=second_factor,
    )
    db.session.commit()  # with the password step, a rehashed password if its cost was old
    session.clear()  # nothing from before the sign-in carries over
    login_user(user)
    return redirect(target if is_safe_redirect_target(target) else url_for("staff.home"), code=303)


def _complete_pending_sign_in(user: StaffUser):
    target = (session.get(PENDING_SIGN_IN) or {}).get("next")
    return _complete_sign_in(user, target, second_factor="totp")


# -- the set-up secret --------------------------------------------------------------------------


def _set_up_secret(user: StaffUser) -> str:
    """The secret offered to this account in this session: the same one on every visit, so that
    a QR code already scanned stays good. Kept in the session encrypted (the cookie is signed,
    not encrypted), and only until the set-up is confirmed."""
    secret_key = current_app.config["SECRET_KEY"]
    offered = session.get(SET_UP_SECRET)
    if isinstance(offered, dict) and offered.get("user_id") == user.id:
        try:
            return totp.decrypt_secret(offered["secret"], secret_key)
        except (InvalidToken, KeyError, TypeError):
            pass
    secret = totp.new_secret()
    session[SET_UP_SECRET] = {"user_id": user.id, "secret": totp.encrypt_secret(secret, secret_key)}
    return secret


def _render_set_up(template: str, user: StaffUser, form: CodeForm):
    secret = _set_up_secret(user)
    uri = totp.provisioning_uri(
        secret, email=user.email, issuer=current_app.config["PORTAL_TOTP_ISSUER"]
    )
    return render_template(
        template, form=form, secret=secret, qr_code=totp.qr_code_data_uri(uri), user=user
    )


def _refuse_code(user: StaffUser, form: CodeForm, refusal: totp.CodeRefused, now: datetime) -> None:
    """Record a refused code, commit, and tell the person why on the form."""
    record_staff_action(
        "staff.totp_refused",
        user=user,
        now=now,
        secret_key=current_app.config["SECRET_KEY"],
        reason=refusal.reason,
    )
    db.session.commit()
    form.code.errors.append(
        _("That code has already been used. Wait for your app to show a new code.")
        if isinstance(refusal, totp.ReplayedCode)
        else _("The code is not right. Enter the code your app shows now.")
    )


def _enrol(user: StaffUser, form: CodeForm) -> bool:
    """Turn the second factor on if the form's code matches the offered secret; record either
    outcome and commit. On a wrong code, the form says so."""
    secret_key = current_app.config["SECRET_KEY"]
    now = utcnow()
    try:
        totp.enrol(user, _set_up_secret(user), form.code.data, now=now, secret_key=secret_key)
    except totp.CodeRefused as refusal:
        _refuse_code(user, form, refusal, now)
        return False
    record_staff_action("staff.totp_enrolled", user=user, now=now, secret_key=secret_key)
    db.session.commit()
    session.pop(SET_UP_SECRET, None)
    return True


# -- the routes ---------------------------------------------------------------------------------


@bp.route("/sign-in", methods=["GET", "POST"])
@_sign_in_limits
def sign_in():
    form = SignInForm()
    if request.method == "POST" and form.validate():
        hasher = hasher_from_config(current_app.config)
        user = authenticate(form.email.data, form.password.data, hasher=hasher)
        if user is None:
            record_staff_action(
                "staff.sign_in_refused",
                user=None,
                email=form.email.data,
                now=utcnow(),
                secret_key=current_app.config["SECRET_KEY"],
            )
            db.session.commit()
            # One message for an unknown address, a wrong password and a disabled account.
            form.password.errors.append(_("The e-mail address or password is not right"))
            return render_template("auth/sign_in.html", form=form)
        target = request.args.get("next")
        target = target if is_safe_redirect_target(target) else None
        if user.totp_enabled or totp.is_required(user, current_app.config):
            return _start_code_step(user, target)
        return _complete_sign_in(user, target, second_factor="none")
    return render_template("auth/sign_in.html", form=form)


@bp.route("/code", methods=["GET", "POST"])
@_sign_in_limits
def enter_code():
    """The code step of a sign-in whose password was accepted."""
    user = _pending_user()
    if user is None:
        return _sign_in_again()
    if not user.totp_enabled:
        return redirect(url_for("auth.set_up_two_step"), code=303)
    form = CodeForm()
    if request.method == "POST" and form.validate():
        now = utcnow()
        try:
            totp.verify(user, form.code.data, now=now, secret_key=current_app.config["SECRET_KEY"])
        except totp.CodeRefused as refusal:
            _refuse_code(user, form, refusal, now)
        else:
            return _complete_pending_sign_in(user)
    return render_template("auth/enter_code.html", form=form)


@bp.route("/set-up-two-step", methods=["GET", "POST"])
@_sign_in_limits
def set_up_two_step():
    """First sign-in of an account that must have a second factor: set it up, then sign in."""
    user = _pending_user()
    if user is None:
        return _sign_in_again()
    if user.totp_enabled:
        return redirect(url_for("auth.enter_code"), code=303)
    form = CodeForm()
    if request.method == "POST" and form.validate() and _enrol(user, form):
        return _complete_pending_sign_in(user)
    return _render_set_up("auth/set_up_two_step.html", user, form)


def _password_confirmed(user: StaffUser, form: ConfirmedCodeForm) -> bool:
    hasher = hasher_from_config(current_app.config)
    if authenticate(user.email, form.password.data, hasher=hasher) is not None:
        return True
    form.password.errors.append(_("The password is not right"))
    record_staff_action(
        "staff.password_refused",
        user=user,
        now=utcnow(),
        secret_key=current_app.config["SECRET_KEY"],
    )
    db.session.commit()
    return False


@bp.route("/two-step-verification", methods=["GET", "POST"])
def two_step_verification():
    """A signed-in member of staff turns the second factor on (or sees that it is on)."""
    user: StaffUser = current_user._get_current_object()
    if user.totp_enabled:
        return render_template("auth/two_step_verification.html", user=user)
    form = ConfirmedCodeForm()
    confirmed = request.method == "POST" and form.validate() and _password_confirmed(user, form)
    if confirmed and _enrol(user, form):
        login_user(user)  # setting up ended every session, this one included: carry on
        flash(_("You have turned on two-step verification."), "success")
        return redirect(url_for("auth.two_step_verification"), code=303)
    return _render_set_up("auth/two_step_verification.html", user, form)


@bp.post("/sign-out")
def sign_out():
    """End this account's sessions everywhere, then this browser's."""
    if current_user.is_authenticated:
        end_sessions(current_user)
        record_staff_action(
            "staff.signed_out",
            user=current_user,
            now=utcnow(),
            secret_key=current_app.config["SECRET_KEY"],
        )
        db.session.commit()
    logout_user()
    session.clear()
    return redirect(url_for("auth.sign_in"), code=303)
