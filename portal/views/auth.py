"""Staff sign-in and sign-out."""

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from portal.clock import utcnow
from portal.extensions import db, limiter, login_manager
from portal.forms.auth import SignInForm
from portal.security import is_safe_redirect_target
from portal.services.accounts import (
    authenticate,
    end_sessions,
    hasher_from_config,
    load_session_user,
    normalise_email,
    record_staff_action,
)

bp = Blueprint("auth", __name__, url_prefix="/auth")


@login_manager.user_loader
def load_user(session_user_id: str):
    return load_session_user(session_user_id)


def _account_key() -> str:
    return "sign-in:" + normalise_email(request.form.get("email", ""))[:320]


def _failed(response) -> bool:
    return response.status_code != 303


@bp.route("/sign-in", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["PORTAL_RATELIMIT_SIGN_IN_ADDRESS"],
    methods=["POST"],
    deduct_when=_failed,
)
@limiter.limit(
    lambda: current_app.config["PORTAL_RATELIMIT_SIGN_IN_ACCOUNT"],
    methods=["POST"],
    key_func=_account_key,
    deduct_when=_failed,
)
def sign_in():
    form = SignInForm()
    if request.method == "POST" and form.validate():
        hasher = hasher_from_config(current_app.config)
        user = authenticate(form.email.data, form.password.data, hasher=hasher)
        record_staff_action(
            "staff.signed_in" if user else "staff.sign_in_refused",
            user=user,
            email=form.email.data,
            now=utcnow(),
            secret_key=current_app.config["SECRET_KEY"],
        )
        db.session.commit()  # the audit entry, and a rehashed password if its cost was old
        if user is not None:
            session.clear()  # nothing from before the sign-in carries over
            login_user(user)
            target = request.args.get("next")
            return redirect(
                target if is_safe_redirect_target(target) else url_for("staff.home"), code=303
            )
        # One message for an unknown address, a wrong password and a disabled account.
        form.password.errors.append(_("The e-mail address or password is not right"))
    return render_template("auth/sign_in.html", form=form)


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
