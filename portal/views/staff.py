"""The staff workspace."""

from datetime import UTC, datetime, time, timedelta

import sqlalchemy as sa
from flask import Blueprint, render_template, request, url_for

from portal.extensions import db
from portal.forms.staff import AuditFilterForm
from portal.models import AuditEntry, Ticket
from portal.security import never_cache

bp = Blueprint("staff", __name__, url_prefix="/staff")


# Reports and the audit log: never cached.
bp.after_request(never_cache)


NEWEST_TICKETS = 50


@bp.get("/")
def home():
    """The newest reports, newest first (the filtered queue replaces this page)."""
    tickets = db.session.scalars(
        sa.select(Ticket).order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(NEWEST_TICKETS)
    ).all()
    return render_template("staff/home.html", tickets=tickets)


AUDIT_PAGE_SIZE = 50
AUDIT_FILTERS = ("actor", "object_id", "since", "until")


@bp.get("/audit")
def audit_log():
    """The audit log, newest first, filtered by actor, object and date; read-only.

    Pages by sequence number (``before``), never by OFFSET, so a deep page costs what the
    first one does.
    """
    form = AuditFilterForm(request.args, meta={"csrf": False})
    query = sa.select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(AUDIT_PAGE_SIZE + 1)
    if not form.validate():
        # A filter that cannot be read shows its error and no entries, never the whole log.
        return render_template("staff/audit.html", form=form, entries=[], older_url=None)
    if form.actor.data:
        query = query.where(AuditEntry.actor_id == form.actor.data.strip())
    if form.object_id.data:
        query = query.where(AuditEntry.object_id == form.object_id.data.strip())
    if form.since.data:
        start = datetime.combine(form.since.data, time.min, tzinfo=UTC)
        query = query.where(AuditEntry.created_at >= start)
    if form.until.data:
        end = datetime.combine(form.until.data + timedelta(days=1), time.min, tzinfo=UTC)
        query = query.where(AuditEntry.created_at < end)
    before = request.args.get("before", type=int)
    if before:
        query = query.where(AuditEntry.seq < before)
    entries = db.session.scalars(query).all()
    older_url = None
    if len(entries) > AUDIT_PAGE_SIZE:
        # Only the filters are carried over: other query keys never reach url_for.
        filters = {key: request.args[key] for key in AUDIT_FILTERS if request.args.get(key)}
        older_url = url_for("staff.audit_log", before=entries[AUDIT_PAGE_SIZE - 1].seq, **filters)
    return render_template(
        "staff/audit.html", form=form, entries=entries[:AUDIT_PAGE_SIZE], older_url=older_url
    )
