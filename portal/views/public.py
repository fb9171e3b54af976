"""The site's own pages: home, privacy, language choice, health."""

from datetime import timedelta

import sqlalchemy as sa
from flask import Blueprint, current_app, redirect, render_template, request, url_for

from portal.config import SUPPORTED_LOCALES
from portal.extensions import db
from portal.i18n import LOCALE_COOKIE
from portal.models import Severity
from portal.security import is_safe_redirect_target

bp = Blueprint("public", __name__)


@bp.get("/")
def home():
    targets = current_app.config["PORTAL_SLA_TARGETS"]
    target_rows = [
        (
            severity,
            timedelta(hours=targets[severity.value]["first_response"]),
            timedelta(hours=targets[severity.value]["resolution"]),
        )
        for severity in reversed(Severity)
    ]
    return render_template("public/home.html", target_rows=target_rows)


@bp.get("/privacy")
def privacy():
    return render_template("public/privacy.html")


@bp.get("/language/<code>")
def choose_language(code: str):
    """Remember the language chosen in the switcher, then go back to where the person was."""
    target = request.args.get("next")
    response = redirect(target if is_safe_redirect_target(target) else url_for("public.home"))
    if code in SUPPORTED_LOCALES:
        response.set_cookie(
            LOCALE_COOKIE,
            code,
            max_age=int(timedelta(days=365).total_seconds()),
            httponly=True,
            samesite="Lax",
            secure=current_app.config["PORTAL_HTTPS"],
        )
    return response


@bp.get("/healthz")
def health():
    db.session.execute(sa.text("SELECT 1"))
    return {"status": "ok"}
