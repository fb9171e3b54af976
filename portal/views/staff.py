"""The staff workspace."""

from datetime import UTC, datetime, time, timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from babel.lists import format_list
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_number, get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from portal.access import may_visit
from portal.clock import utcnow
from portal.config import SUPPORTED_LOCALES
from portal.extensions import db
from portal.forms.staff import AuditFilterForm, BulkActionForm, QueueFilterForm
from portal.i18n import language_name
from portal.models import AuditEntry, Severity, SlaState, TicketKind
from portal.models.types import MAX_DATABASE_ID
from portal.security import is_safe_redirect_target, never_cache
from portal.services import queue as queue_service
from portal.services.errors import CaseworkRefused
from portal.services.queue import QueueSort
from portal.services.scope import visible_team_ids

bp = Blueprint("staff", __name__, url_prefix="/staff")


# Reports and the audit log: never cached.
bp.after_request(never_cache)

# The query keys that make a view of the queue (carried by its links; ``after`` is the page).
QUEUE_VIEW_ARGS = (*QueueFilterForm.FILTERS, "sort")


@bp.get("/")
def home():
    """The workspace's front door: the first section of the navigation the viewer may visit
    (the queue, for those who work on cases). 403 for staff with no section at all."""
    for endpoint, _label in current_app.jinja_env.globals["staff_navigation"]:
        if may_visit(endpoint):
            return redirect(url_for(endpoint))
    abort(403)


@bp.get("/queue")
def queue():
    """The triage queue: the viewer's teams' reports, filtered and ordered as the address says.

    A filter that cannot be read (an edited address, a team the viewer is not in) shows its
    error and no reports; a page link that cannot be read shows the first page and says so.
    """
    visible = visible_team_ids(current_user)
    options = queue_service.filter_options(visible)
    form = QueueFilterForm(request.args, meta={"csrf": False})
    form.offer(
        teams=options.teams,
        members=options.members,
        models=options.models,
        languages=[(code, language_name(code)) for code in SUPPORTED_LOCALES],
    )
    bulk_form = BulkActionForm(next=request.full_path.rstrip("?"))
    bulk_form.offer(members=options.members)
    # Only the view's own keys are carried into its links: other query keys never reach url_for.
    view_args = {key: request.args[key] for key in QUEUE_VIEW_ARGS if request.args.get(key)}
    context = {
        "form": form,
        "bulk_form": bulk_form,
        "page": None,
        "searched_reference": None,
        "cursor_refused": False,
        "is_first_page": True,
        "active_filters": form.active_filters,
        "kind_words": KIND_WORDS,
        "severity_words": SEVERITY_WORDS,
        # The service levels a row is tagged with (no tag: on time, or nothing due).
        "tagged_states": (SlaState.AT_RISK, SlaState.BREACHED),
        # The case page may not be there yet (or not for this viewer): references are then text.
        "case_pages": "cases.show" in current_app.view_functions and may_visit("cases.show"),
    }
    if not form.validate():
        return render_template("staff/queue.html", **context, **_view_links(None, view_args))
    sort = QueueSort(form.sort.data)
    after = None
    if request.args.get("after"):
        try:
            after = queue_service.decode_cursor(request.args["after"], sort)
        except queue_service.InvalidCursor:
            context["cursor_refused"] = True
    filters = form.to_filters(current_user.id)
    # One moment for the whole page: the service-level filter, the count and the rows' tags.
    now = utcnow()
    page = queue_service.load_page(
        filters, sort=sort, visible_team_ids=visible, now=now, after=after
    )
    context.update(
        page=page,
        searched_reference=filters.reference,
        is_first_page=after is None,
        count_message=_count_message(page),
    )
    return render_template("staff/queue.html", **context, **_view_links(sort, view_args, page))


# The table's short words for the kind and the severity: the enums' labels are written for
# reporters ("Medium: caused me some harm or cost") and would make every row several lines tall.
KIND_WORDS = {
    TicketKind.HARM_REPORT: _l("Harm report"),
    TicketKind.OUTPUT_DISPUTE: _l("Dispute"),
    TicketKind.ACCESSIBILITY_BARRIER: _l("Barrier to using the portal"),
}
SEVERITY_WORDS = {
    Severity.LOW: _l("Low"),
    Severity.MEDIUM: _l("Medium"),
    Severity.HIGH: _l("High"),
    Severity.CRITICAL: _l("Critical"),
}

SORT_CAPTIONS = {
    QueueSort.DUE: _l(
        "Reports, next due first, then those waiting for the reporter or with nothing due"
    ),
    QueueSort.NEWEST: _l("Reports, newest first"),
    QueueSort.OLDEST: _l("Reports, oldest first"),
    QueueSort.SEVERITY: _l("Reports, most severe first, then newest first"),
}


def _view_links(
    sort: QueueSort | None, view_args: dict, page: queue_service.QueuePage | None = None
) -> dict:
    """The links of a view: its first and next pages, and the sortable columns' headers (their
    ``aria-sort`` and where a click takes the reader), each keeping the filters."""

    def view_url(**changes) -> str:
        return url_for("staff.queue", **{**view_args, **changes})

    newest_or_oldest = QueueSort.NEWEST if sort is QueueSort.OLDEST else QueueSort.OLDEST
    return {
        "caption": SORT_CAPTIONS[sort or QueueSort.DUE],
        "first_page_url": view_url(),
        "next_page_url": view_url(after=page.next_cursor) if page and page.next_cursor else None,
        "received_sort": {
            QueueSort.NEWEST: "descending",
            QueueSort.OLDEST: "ascending",
        }.get(sort),
        "received_url": view_url(sort=newest_or_oldest.value),
        "received_hint": (
            _("Show the oldest first")
            if newest_or_oldest is QueueSort.OLDEST
            else _("Show the newest first")
        ),
        "severity_sort": "descending" if sort is QueueSort.SEVERITY else None,
        "severity_url": None if sort is QueueSort.SEVERITY else view_url(sort="severity"),
        "due_sort": "ascending" if sort is QueueSort.DUE else None,
        "due_url": None if sort is QueueSort.DUE else view_url(sort=QueueSort.DUE.value),
    }


def _count_message(page: queue_service.QueuePage) -> str:
    shown = len(page.tickets)
    if page.total is None:
        return ngettext(
            "%(count)s report on this page matches the words searched for.",
            "%(count)s reports on this page match the words searched for.",
            shown,
            count=format_number(shown),
        )
    if page.total_capped:
        return ngettext(
            "Showing %(shown)s of more than %(count)s report.",
            "Showing %(shown)s of more than %(count)s reports.",
            page.total,
            shown=format_number(shown),
            count=format_number(page.total),
        )
    return ngettext(
        "Showing %(shown)s of %(count)s report.",
        "Showing %(shown)s of %(count)s reports.",
        page.total,
        shown=format_number(shown),
        count=format_number(page.total),
    )


@bp.post("/queue/bulk")
def bulk_action():
    """Assign, move or close as spam the reports ticked in the queue, then go back to the same
    view. Reports outside the viewer's teams are skipped as not found; each refusal is named
    in a message; the changes made are committed together."""
    visible = visible_team_ids(current_user)
    members = queue_service.assignable_staff(visible)
    form = BulkActionForm()
    form.offer(members=members)
    back = form.next.data if _is_queue_address(form.next.data) else url_for("staff.queue")
    if not form.validate():
        for errors in form.errors.values():
            for message in errors:
                flash(message, "error")
        return redirect(back, code=303)
    viewer = current_user._get_current_object()
    outcome = queue_service.apply_bulk_action(
        form.tickets.data,
        form.to_action(viewer=viewer, members=members),
        staff=viewer,
        now=utcnow(),
        visible_team_ids=visible,
    )
    db.session.commit()
    for category, message in _bulk_messages(outcome):
        flash(message, category)
    return redirect(back, code=303)


def _is_queue_address(target: str | None) -> bool:
    """Only back to the queue itself, with whatever filters it had."""
    queue_path = url_for("staff.queue")
    return is_safe_redirect_target(target) and urlsplit(target).path == queue_path


def _bulk_messages(outcome: queue_service.BulkOutcome) -> list[tuple[str, str]]:
    """What a bulk action did, in the viewer's words: (flash category, message) pairs."""
    messages = []
    if outcome.changed:
        messages.append(
            (
                "success",
                ngettext(
                    "%(count)s report changed.",
                    "%(count)s reports changed.",
                    len(outcome.changed),
                    count=format_number(len(outcome.changed)),
                ),
            )
        )
    if outcome.unchanged:
        messages.append(
            (
                "info",
                ngettext(
                    "%(count)s report was already as asked: %(references)s.",
                    "%(count)s reports were already as asked: %(references)s.",
                    len(outcome.unchanged),
                    count=format_number(len(outcome.unchanged)),
                    references=_references(outcome.unchanged),
                ),
            )
        )
    for reason, references in outcome.refused.items():
        messages.append(("error", _refusal_message(reason, references)))
    if outcome.not_found:
        messages.append(
            (
                "error",
                ngettext(
                    "%(count)s selected report was not found: it may have moved to a team you "
                    "are not in.",
                    "%(count)s selected reports were not found: they may have moved to a team "
                    "you are not in.",
                    outcome.not_found,
                    count=format_number(outcome.not_found),
                ),
            )
        )
    return messages


def _references(references: list[str]) -> str:
    return format_list(references, locale=get_locale())


def _refusal_message(reason: str, references: list[str]) -> str:
    count, named = len(references), _references(references)
    if reason == queue_service.STALE:
        return ngettext(
            "Not changed, because someone else changed it after this page was shown: "
            "%(references)s. Check it and try again.",
            "Not changed, because someone else changed them after this page was shown: "
            "%(references)s. Check them and try again.",
            count,
            references=named,
        )
    if reason == queue_service.INVALID_TRANSITION:
        return ngettext(
            "Not changed, because its status cannot move to the one chosen: %(references)s.",
            "Not changed, because their statuses cannot move to the one chosen: %(references)s.",
            count,
            references=named,
        )
    if reason == CaseworkRefused.NOT_A_MEMBER:
        return ngettext(
            "Not assigned, because that person is not a member of the report's team: "
            "%(references)s.",
            "Not assigned, because that person is not a member of these reports' teams: "
            "%(references)s.",
            count,
            references=named,
        )
    if reason == CaseworkRefused.ORIGINAL_DECIDER:
        return ngettext(
            "Not assigned, because that person took the decision now under appeal: %(references)s.",
            "Not assigned, because that person took the decisions now under appeal: "
            "%(references)s.",
            count,
            references=named,
        )
    if reason == CaseworkRefused.NOT_OPEN:
        return ngettext(
            "Not changed, because the report is no longer open: %(references)s.",
            "Not changed, because these reports are no longer open: %(references)s.",
            count,
            references=named,
        )
    return ngettext(
        "Not changed: %(references)s.", "Not changed: %(references)s.", count, references=named
    )


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
    if before is not None and not 0 < before <= MAX_DATABASE_ID:
        before = None  # an edited link: the newest entries rather than a driver's overflow
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
