"""The site's own pages: home, privacy, language choice, health."""

from datetime import date, timedelta

import sqlalchemy as sa
from babel.dates import format_date
from babel.lists import format_list
from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from portal.clock import utcnow
from portal.extensions import db
from portal.i18n import (
    LOCALE_COOKIE,
    PSEUDO_LOCALE,
    language_name,
    language_tag,
    offered_locales,
)
from portal.models import Severity
from portal.scheduler import ClockState, clock_state, default_jobs
from portal.security import is_safe_redirect_target
from portal.services import sla

bp = Blueprint("public", __name__)


@bp.get("/")
def home():
    """The home page, with the targets we publish: each severity's policy for every team."""
    target_rows = [(severity, sla.published_terms(severity)) for severity in reversed(Severity)]
    return render_template("public/home.html", target_rows=target_rows)


@bp.get("/privacy")
def privacy():
    return render_template("public/privacy.html")


# When the accessibility statement was last prepared (change it with the statement).
STATEMENT_PREPARED_ON = date(2026, 11, 28)


@bp.get("/accessibility")
def accessibility():
    """The accessibility statement: what conforms, how it is tested, known gaps, and how to
    report a barrier (through the portal's own report form)."""
    locale = get_locale()
    names = [language_name(code) for code in offered_locales() if code != PSEUDO_LOCALE]
    return render_template(
        "public/accessibility.html",
        languages=format_list(names, locale=locale),
        prepared_on=format_date(STATEMENT_PREPARED_ON, "long", locale=locale),
    )


@bp.get("/language/<tag>")
def choose_language(tag: str):
    """Remember the language chosen in the switcher (named by its tag, "pt-BR"), then go back
    to where the person was."""
    target = request.args.get("next")
    response = redirect(target if is_safe_redirect_target(target) else url_for("public.home"))
    # Language tags are case-insensitive: "pt-br" is "pt-BR".
    code = {language_tag(code).lower(): code for code in offered_locales()}.get(tag.lower())
    if code:
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
    """For monitoring, as JSON: whether the database answers, and the clock's age.

    200 while the database answers, 503 when it does not. ``clock_age_seconds`` is the time
    since a job of the clock process (``flask scheduler run``) last succeeded (null: never), and
    the status says "clock silent" past ``PORTAL_CLOCK_SILENT_AFTER_SECONDS``; "clock failing"
    while the last run of a job failed (``failing_jobs`` names them). Either alone is still 200,
    because the web server works without the clock and a load balancer must not take it out of
    service for it. ``/healthz?require=clock`` answers 503 then, for the monitor that watches
    the clock.
    """
    try:
        db.session.execute(sa.text("SELECT 1"))
        clock = current_clock_state()
    except sa.exc.DBAPIError:
        db.session.rollback()
        body = {"status": "database unavailable", "database": "unavailable"}
        return body, 503, NOT_CACHED
    status = "clock silent" if clock.silent else "clock failing" if clock.failing else "ok"
    body = {
        "status": status,
        "database": "ok",
        "clock_age_seconds": None if clock.age is None else int(clock.age.total_seconds()),
        "failing_jobs": list(clock.failing),
    }
    unhealthy = status != "ok" and request.args.get("require") == "clock"
    return body, 503 if unhealthy else 200, NOT_CACHED


NOT_CACHED = {"Cache-Control": "no-store"}


def current_clock_state() -> ClockState:
    silent_after = current_app.config["PORTAL_CLOCK_SILENT_AFTER_SECONDS"]
    return clock_state(
        utcnow(),
        silent_after=timedelta(seconds=silent_after),
        job_names=[job.name for job in default_jobs(current_app.config)],
    )


def clock_status() -> dict:
    """Context processor: ``clock_state()`` for the staff pages' warning, queried only when a
    template calls it, and ``clock_job_labels()`` to name failing jobs in the viewer's words."""
    return {"clock_state": current_clock_state, "clock_job_labels": clock_job_labels}


def clock_job_labels(names) -> str:
    """The clock's jobs in words, as a list in the viewer's language ("a, b and c")."""
    labels = [str(CLOCK_JOB_LABELS.get(name, name)) for name in names]
    return format_list(labels, locale=get_locale())


CLOCK_JOB_LABELS = {"sla_sweep": _l("checking deadlines"), "outbox": _l("sending e-mail")}
