"""The case page: everything about one ticket, and the actions staff take on it.

Every action is a POST that changes only what its form names, in one transaction: load the case
(not found outside the viewer's teams, exactly as for a reference that does not exist), validate,
call the casework service, commit once, redirect back to the page (POST-redirect-GET). Forms
carry the ``row_version`` the page showed: when someone else saved the ticket in between, nothing
is saved and the page comes back (409) with their changes and with what this person typed.
"""

from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import format_date, format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from portal.clock import utcnow
from portal.config import SUPPORTED_LOCALES
from portal.extensions import db
from portal.forms import PortalForm
from portal.forms.cases import (
    DECISION_PROBLEMS,
    AssignForm,
    CaseForm,
    ClassifyForm,
    DecideForm,
    MergeForm,
    MoveTeamForm,
    NoteForm,
    ReasonTemplateChoiceForm,
    ReplyForm,
    RequestInformationForm,
    SavedReplyChoiceForm,
    SeriousIncidentForm,
    StatusForm,
)
from portal.i18n import current_locale_code, language_name
from portal.models import (
    Actor,
    AppealResult,
    Attachment,
    AutomatedMeans,
    Category,
    EventKind,
    Outcome,
    ReasonTemplate,
    Remedy,
    SavedReply,
    Severity,
    StaffUser,
    Status,
    Team,
    Ticket,
    TicketEvent,
)
from portal.security import never_cache
from portal.services import (
    assignment,
    attachments,
    casework,
    decisions,
    reason_templates,
    staff_admin,
)
from portal.services.attachments import upload_dir
from portal.services.decisions import DecisionRefused
from portal.services.errors import CaseworkRefused, InvalidTransition, StaleTicket
from portal.services.scope import can_see_ticket, team_members, visible_team_ids
from portal.services.status import OPEN_STATES
from portal.services.tickets import find_ticket_by_reference
from portal.views.admin import language_choices

bp = Blueprint("cases", __name__, url_prefix="/staff/tickets")
# What people reported, and their evidence: never cached.
bp.after_request(never_cache)

CONFLICT = _l(
    "Someone else changed this report while you were working on it. Their changes are shown "
    "below; check them and try again."
)
# Evidence is served only as a download, and even a document opened from it can run nothing.
DOWNLOAD_CSP = "sandbox; default-src 'none'"
PREVIEWED_TYPES = frozenset({attachments.PNG, attachments.JPEG, attachments.WEBP})
# Why the system assigned or released a ticket (the ``reason`` of an ASSIGNED event).
ASSIGNMENT_REASONS = {
    assignment.AUTO: _l(
        "Given automatically to the least busy member of the team who speaks the reporter's "
        "language."
    ),
    assignment.ACCOUNT_DISABLED: _l("The account of the person working on it was disabled."),
    assignment.LEFT_TEAM: _l("The person working on it left the team."),
    assignment.NO_LONGER_CASEWORK: _l("The person working on it no longer works on cases."),
    casework.UNASSIGNED_ON_MERGE: _l("Merged into another report, whose team takes it from here."),
    casework.UNASSIGNED_AS_SPAM: _l("Closed as spam."),
    casework.UNASSIGNED_ON_MOVE: _l("Sent to another team."),
    assignment.APPEAL_REVIEW: _l(
        "Under appeal: the person working on it took the decision under appeal, and someone "
        "else reviews it."
    ),
}
FILE_TYPE_NAMES = {
    attachments.PNG: _l("PNG image"),
    attachments.JPEG: _l("JPEG image"),
    attachments.WEBP: _l("WebP image"),
    attachments.PDF: _l("PDF document"),
    attachments.TEXT: _l("Plain text"),
}


# -- loading and helpers ------------------------------------------------------------------------


def load_case_or_404(reference: str) -> Ticket:
    """The ticket named by ``reference`` (as people type it: any case, spaces, missing dashes),
    if the signed-in member of staff may work on it.

    Aborts with 404 when there is no such ticket and, with the very same response, when it
    belongs to a team outside the viewer's scope (``portal.services.scope``): a reference alone
    never tells someone outside the team that a report exists. Never 403.
    """
    ticket = find_ticket_by_reference(reference)
    if ticket is None or not can_see_ticket(current_user, ticket):
        abort(404)
    return ticket


def signed_in_staff() -> StaffUser:
    return current_user._get_current_object()


def lost_link_url() -> str:
    """Where a reporter asks for a new link; on the configured base URL, never the Host header."""
    return current_app.config["PORTAL_BASE_URL"].rstrip("/") + url_for("reports.lost_link")


def members_of(ticket: Ticket) -> list[StaffUser]:
    return team_members(ticket.team_id) if ticket.team_id is not None else []


def file_size(size_bytes: int) -> str:
    if size_bytes < 1024 * 1024:
        kilobytes = max(1, round(size_bytes / 1024))
        return _("%(size)s KB", size=format_decimal(kilobytes))
    return _("%(size)s MB", size=format_decimal(round(size_bytes / (1024 * 1024), 1)))


# -- the forms, for handling a POST or for showing the page -------------------------------------


# Each builder gives the form of one action: bound to the request's data when handling its
# POST, or (``shown``) filled from the ticket for showing the page, so that the data of one
# form posted never fills in the others.


def assign_form(ticket: Ticket, now: datetime, shown: bool) -> AssignForm:
    # Under appeal, whoever took the decision under appeal is not offered (nor accepted).
    excluded = casework.contested_decider_id(ticket)
    members = [member for member in members_of(ticket) if member.id != excluded]
    if shown:
        return AssignForm(formdata=None, members=members, assignee=str(ticket.assignee_id or ""))
    return AssignForm(members=members)


def status_form(ticket: Ticket, now: datetime, shown: bool) -> StatusForm:
    statuses = casework.status_choices(ticket, now)
    return StatusForm(formdata=None, statuses=statuses) if shown else StatusForm(statuses=statuses)


def classify_form(ticket: Ticket, now: datetime, shown: bool) -> ClassifyForm:
    assessed = ticket.severity is not None
    if shown:
        form = ClassifyForm(
            formdata=None,
            assessed=assessed,
            category=ticket.category.value,
            severity=ticket.severity.value if assessed else "",
        )
    else:
        form = ClassifyForm(assessed=assessed)
    form.severity.description = _(
        "The reporter said: %(severity)s", severity=ticket.reporter_severity.label
    )
    return form


def reply_form(ticket: Ticket, now: datetime, shown: bool) -> ReplyForm:
    ids = [saved.id for saved in casework.saved_replies_for(ticket)]
    if shown:
        return ReplyForm(formdata=None, saved_reply_ids=ids)
    return ReplyForm(saved_reply_ids=ids)


def other_teams(ticket: Ticket) -> list[Team]:
    return list(
        db.session.scalars(
            sa.select(Team).where(Team.id != (ticket.team_id or 0)).order_by(Team.name)
        )
    )


def move_team_form(ticket: Ticket, now: datetime, shown: bool) -> MoveTeamForm:
    teams = other_teams(ticket)
    return MoveTeamForm(formdata=None, teams=teams) if shown else MoveTeamForm(teams=teams)


def writing_language(person: StaffUser) -> str:
    """The language a decision's text is assumed to be written in until its author says
    otherwise: the first of the portal's languages they work in, else the page's."""
    theirs = staff_admin.languages_of(person)
    return next((code for code in SUPPORTED_LOCALES if code in theirs), current_locale_code())


def decide_form(ticket: Ticket, now: datetime, shown: bool) -> DecideForm:
    options = {
        "appeal": ticket.status is Status.APPEALED,
        "versions": ticket.model.versions if ticket.model else [],
        "model_name": ticket.model.display_name if ticket.model else None,
        "languages": language_choices(),
    }
    if shown:
        return DecideForm(formdata=None, language=writing_language(signed_in_staff()), **options)
    return DecideForm(**options)


def plain_form(form_class) -> Callable[[Ticket, datetime, bool], PortalForm]:
    """The builder of a form that needs nothing from the ticket."""

    def build(ticket: Ticket, now: datetime, shown: bool) -> PortalForm:
        return form_class(formdata=None) if shown else form_class()

    return build


FORM_BUILDERS = {
    "assign": assign_form,
    "status": status_form,
    "classify": classify_form,
    "reply": reply_form,
    "request_information": plain_form(RequestInformationForm),
    "note": plain_form(NoteForm),
    "merge": plain_form(MergeForm),
    "serious_incident": plain_form(SeriousIncidentForm),
    "move_team": move_team_form,
    "decide": decide_form,
}


def submitted_form(name: str, ticket: Ticket):
    """(form, valid): the form of action ``name``, bound to the POST and validated.

    A missing or garbled ``version`` is no person's mistake (the page always sends it): 400.
    """
    form = FORM_BUILDERS[name](ticket, utcnow(), False)
    valid = form.validate()
    if isinstance(form, CaseForm) and form.version.errors:
        abort(400)
    return form, valid


# -- the page -----------------------------------------------------------------------------------


def render_case(
    ticket: Ticket,
    *,
    submitted: tuple[str, object] | None = None,
    problem: str | None = None,
    status: int = 200,
    saved_reply: SavedReply | None = None,
    reason_template: ReasonTemplate | None = None,
):
    """The case page, with each action's form; ``submitted`` (action name, form) is shown as
    it was sent, with its errors, and ``problem`` as a message above everything."""
    now = utcnow()
    me = signed_in_staff()
    forms = {name: build(ticket, now, True) for name, build in FORM_BUILDERS.items()}
    if saved_reply is not None:
        forms["reply"].reply.data = saved_reply.body
        forms["reply"].saved_reply_id.data = saved_reply.id
    if reason_template is not None:
        start_from_template(forms["decide"], reason_template)
    failed = None
    if submitted is not None:
        name, form = submitted
        forms[name] = form
        if form.errors:
            failed = form
    saved_replies = casework.saved_replies_for(ticket)
    chooser = SavedReplyChoiceForm(formdata=None, saved_replies=saved_replies)
    chooser.saved_reply.data = saved_reply.id if saved_reply else None
    decidable = ticket.status in decisions.DECIDABLE_STATES
    templates = reason_templates.available_for(ticket) if decidable else []
    template_chooser = ReasonTemplateChoiceForm(
        formdata=None,
        templates=templates,
        language_names={code: language_name(code) for code in {t.locale for t in templates}},
    )
    template_chooser.reason_template.data = reason_template.id if reason_template else None
    contested_decider = casework.contested_decider_id(ticket)
    # The history shows each event's files: load them with the events, not one query each.
    events = list(
        db.session.scalars(
            sa.select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket.id)
            .order_by(TicketEvent.id)
            .options(selectinload(TicketEvent.attachments))
        )
    )
    teams = visible_team_ids(me)
    is_open = ticket.status in OPEN_STATES
    return render_template(
        "cases/show.html",
        ticket=ticket,
        case_forms=forms,
        failed=failed,
        problem=problem,
        chooser=chooser,
        saved_replies=saved_replies,
        template_chooser=template_chooser,
        reason_templates=templates,
        decisions=decisions.decisions_of(ticket),
        appeal=decisions.open_appeal(ticket) if ticket.status is Status.APPEALED else None,
        contested_decider=contested_decider,
        events=events,
        staff_names=staff_names(ticket, events),
        linkable_references=linkable_references(events, teams),
        related=casework.related_tickets(ticket, now=now, visible_team_ids=teams),
        files=[
            {
                "attachment": attachment,
                "type": FILE_TYPE_NAMES.get(attachment.content_type, attachment.content_type),
                "size": file_size(attachment.size_bytes),
                "preview": attachment.content_type in PREVIEWED_TYPES,
            }
            for attachment in ticket.attachments
        ],
        reporter_language=language_name(ticket.locale),
        occurred_on=format_date(ticket.occurred_on, "long") if ticket.occurred_on else None,
        emails_reporter=casework.will_email_reporter(ticket),
        offers={
            "assign": ticket.team_id is not None and (is_open or ticket.status is Status.APPEALED),
            "claim": ticket.assignee_id != me.id
            and me.id != contested_decider
            and casework.is_team_member(me, ticket.team_id),
            "status": bool(forms["status"].status.choices),
            "reply": casework.can_be_replied_to(ticket),
            "request_information": is_open and ticket.status is not Status.AWAITING_REPORTER,
            "merge": is_open,
            "serious_incident": ticket.serious_incident_at is None,
            "move_team": (is_open or ticket.status is Status.APPEALED)
            and bool(forms["move_team"].team.choices),
            "decide": decidable and me.id != contested_decider,
        },
        team_names=team_names(events),
        assignment_reasons=ASSIGNMENT_REASONS,
        Actor=Actor,
        Category=Category,
        Severity=Severity,
        Remedy=Remedy,
        decidable=decidable,
    ), status


def start_from_template(form: DecideForm, template: ReasonTemplate) -> None:
    """Fill in the decision from a reason template: its outcome, its reasons and the language
    they are written in. The person deciding adapts them before sending."""
    form.outcome.data = template.outcome.value
    form.facts.data = template.facts
    form.measure.data = template.measure
    form.policy_clause.data = template.policy_clause
    form.language.data = template.locale


def staff_names(ticket: Ticket, events) -> dict[int, str]:
    """Names of everyone the history mentions, in one query."""
    ids = {ticket.assignee_id}
    for event in events:
        ids.add(event.staff_id)
        if event.kind is EventKind.ASSIGNED and event.detail:
            ids.update((event.detail.get("from"), event.detail.get("to")))
    ids.discard(None)
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(StaffUser.id, StaffUser.display_name).where(StaffUser.id.in_(ids))
    )
    return {user_id: name for user_id, name in rows}


def team_names(events) -> dict[int, str]:
    """Names of the teams the history says a report was sent to, in one query (none when it
    was never moved)."""
    ids = {
        event.detail.get("to")
        for event in events
        if event.kind is EventKind.ROUTED and event.detail
    }
    ids.discard(None)
    if not ids:
        return {}
    return dict(db.session.execute(sa.select(Team.id, Team.name).where(Team.id.in_(ids))).all())


def linkable_references(events, teams: set[int] | None) -> set[str]:
    """The references named in merge events that the viewer may open; others show no link."""
    references = {
        event.detail[key]
        for event in events
        if event.detail
        for key in ("into", "from")
        if isinstance(event.detail.get(key), str)
    }
    if not references:
        return set()
    query = sa.select(Ticket.reference).where(Ticket.reference.in_(references))
    if teams is not None:
        query = query.where(Ticket.team_id.in_(teams))
    return set(db.session.scalars(query))


@bp.get("/<reference>")
def show(reference: str):
    ticket = load_case_or_404(reference)
    chosen = request.args.get("saved_reply", type=int)
    chosen_template = request.args.get("reason_template", type=int)
    if reference != ticket.reference:
        # Only the parameters the page reads are carried over: others never reach url_for.
        return redirect(
            url_for(
                "cases.show",
                reference=ticket.reference,
                saved_reply=chosen,
                reason_template=chosen_template,
            )
        )
    saved_reply = reason_template = None
    if chosen is not None:
        saved_reply = next(
            (saved for saved in casework.saved_replies_for(ticket) if saved.id == chosen), None
        )
    if chosen_template is not None and ticket.status in decisions.DECIDABLE_STATES:
        reason_template = next(
            (
                template
                for template in reason_templates.available_for(ticket)
                if template.id == chosen_template
            ),
            None,
        )
    return render_case(ticket, saved_reply=saved_reply, reason_template=reason_template)


@bp.get("/<reference>/files/<int:attachment_id>")
def download(reference: str, attachment_id: int):
    """One evidence file, always as a download (an ``<img>`` still shows an image from it),
    never sniffed, and sandboxed should a browser open it anyway. Each fetch is audited."""
    ticket = load_case_or_404(reference)
    attachment = db.session.get(Attachment, attachment_id)
    if attachment is None or attachment.ticket_id != ticket.id:
        abort(404)
    path = upload_dir() / attachment.storage_name
    if not path.is_file():
        abort(404)
    casework.record_download(
        ticket,
        attachment,
        staff=signed_in_staff(),
        now=utcnow(),
        secret_key=current_app.config["SECRET_KEY"],
        preview=request.args.get("preview") == "1",
    )
    db.session.commit()
    response = send_file(
        path,
        mimetype=attachment.content_type,
        as_attachment=True,
        download_name=attachment.original_name,
    )
    response.headers["Content-Security-Policy"] = DOWNLOAD_CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# -- actions ------------------------------------------------------------------------------------

# What the reporter's or the ticket's state refuses, per action where the wording differs.
NOT_OPEN_MESSAGES = {
    "assign": _l("Only open reports can be assigned."),
    "move_team": _l("Only open reports can be sent to another team."),
    "reply": _l(
        "This report was withdrawn, merged or closed as spam, so it can no longer be replied to."
    ),
    "request_information": _l(
        "You can ask a question only while the report is open and not already waiting for "
        "the reporter."
    ),
    "merge": _l("Only an open report can be merged into another."),
    "decide": _l(
        "This report cannot be decided now. Only a report being worked on, or under appeal, "
        "can be; one waiting for the reporter's answer must first go back to investigating."
    ),
}
# Under appeal, what the person whose decision is under appeal is refused, per action.
ORIGINAL_DECIDER_MESSAGES = {
    "assign": _l(
        "The person who took the decision under appeal cannot be assigned to it: someone else "
        "reviews the appeal."
    ),
    "decide": _l("You took the decision under appeal, so someone else must answer the appeal."),
}


def refusal_message(refusal: CaseworkRefused, action: str) -> str:
    if refusal.reason == CaseworkRefused.NOT_A_MEMBER:
        return _("Only active members of this report's team can be assigned to it.")
    if refusal.reason == CaseworkRefused.UNKNOWN_TARGET:
        return _("There is no report with that reference that you can work on. Check it.")
    if refusal.reason == CaseworkRefused.SAME_TICKET:
        return _("A report cannot be merged into itself.")
    if refusal.reason == CaseworkRefused.MERGE_TARGET:
        return _("That report is closed or has been merged itself. Choose an open report.")
    if refusal.reason == CaseworkRefused.ALREADY_FLAGGED:
        return _("This report is already flagged as a possible serious incident.")
    if refusal.reason == CaseworkRefused.SAME_TEAM:
        return _("This report is already with that team.")
    if refusal.reason == CaseworkRefused.ORIGINAL_DECIDER:
        return str(ORIGINAL_DECIDER_MESSAGES.get(action, ORIGINAL_DECIDER_MESSAGES["assign"]))
    return str(NOT_OPEN_MESSAGES.get(action, _l("This report is no longer open for that.")))


def act(ticket: Ticket, name: str, form, action: Callable[[], str]):
    """Run ``action`` (the service calls; returns the success message) and commit once.

    A stale version, or a concurrent save caught by the ``row_version`` check at commit, rolls
    everything back and shows the page again (409) with the other person's changes and this
    person's answers. A refusal rolls back and shows why, at the form's main field (or, for a
    decision, at each question at fault).
    """
    reference = ticket.reference
    try:
        message = action()
        db.session.commit()
    except (StaleTicket, StaleDataError):
        db.session.rollback()
        return render_case(ticket, submitted=(name, form), problem=str(CONFLICT), status=409)
    except DecisionRefused as refusal:
        db.session.rollback()
        for field, code in refusal.problems.items():
            form[field].errors.append(DECISION_PROBLEMS[code])
        return render_case(ticket, submitted=(name, form))
    except (CaseworkRefused, InvalidTransition) as error:
        db.session.rollback()
        if isinstance(error, CaseworkRefused):
            message = refusal_message(error, name)
        else:
            message = _("This report cannot move to that status from where it is now.")
        if form.primary:
            getattr(form, form.primary).errors.append(message)
            return render_case(ticket, submitted=(name, form))
        return render_case(ticket, submitted=(name, form), problem=message)
    flash(message, "success")
    if not can_see_ticket(signed_in_staff(), ticket):
        # Sent to a team the viewer is not in: their queue, rather than a "not found".
        return redirect(url_for("staff.queue"), code=303)
    return redirect(url_for("cases.show", reference=reference), code=303)


def case_action(name: str, rule: str):
    """Register ``perform(ticket, form) -> message`` as the POST action ``name`` at
    ``/<reference>/<rule>``: the case is loaded (404 outside the viewer's teams), the action's
    form validated (errors show on the case page), then ``perform`` calls the services and
    everything is committed at once by ``act``. The endpoint is ``cases.<perform's name>``."""

    def register(perform: Callable[[Ticket, PortalForm], str]):
        def view(reference: str):
            ticket = load_case_or_404(reference)
            form, valid = submitted_form(name, ticket)
            if not valid:
                return render_case(ticket, submitted=(name, form))
            return act(ticket, name, form, lambda: perform(ticket, form))

        view.__doc__ = perform.__doc__
        bp.add_url_rule(
            f"/<reference>/{rule}", endpoint=perform.__name__, view_func=view, methods=["POST"]
        )
        return perform

    return register


@case_action("assign", "assign")
def assign(ticket: Ticket, form: AssignForm) -> str:
    """Claim (assign to me), assign to a member of the team, or back to the team's queue."""
    me = signed_in_staff()
    if form.claim.data:
        assignee = me
    elif form.assignee.data:
        assignee = db.session.get(StaffUser, int(form.assignee.data))
    else:
        assignee = None
    event = casework.assign(
        ticket, assignee, staff=me, now=utcnow(), expect_version=form.version.data
    )
    if event is None:
        return _("Nothing changed: the report was already assigned that way.")
    if assignee is None:
        return _("The report is back in the team's queue.")
    if assignee.id == me.id:
        return _("You are now working on this report.")
    return _("Assigned to %(name)s.", name=assignee.display_name)


@case_action("status", "status")
def change_status(ticket: Ticket, form: StatusForm) -> str:
    to = Status(form.status.data)
    casework.change_status(
        ticket, to, staff=signed_in_staff(), now=utcnow(), expect_version=form.version.data
    )
    return _("Status changed to “%(status)s”.", status=to.staff_label)


@case_action("classify", "classification")
def classify(ticket: Ticket, form: ClassifyForm) -> str:
    """Category and triaged severity: only what differs changes, one event for each."""
    events = casework.classify(
        ticket,
        category=Category(form.category.data),
        severity=Severity(form.severity.data) if form.severity.data else None,
        staff=signed_in_staff(),
        now=utcnow(),
        expect_version=form.version.data,
    )
    return _("Classification saved.") if events else _("Nothing changed.")


@case_action("reply", "reply")
def reply(ticket: Ticket, form: ReplyForm) -> str:
    casework.reply(
        ticket,
        form.reply.data,
        staff=signed_in_staff(),
        now=utcnow(),
        lost_link_url=lost_link_url,
        expect_version=form.version.data,
        saved_reply_id=form.saved_reply_id.data,
    )
    if casework.will_email_reporter(ticket):
        return _("Your reply is on the reporter's tracking page and is being e-mailed to them.")
    return _("Your reply is on the reporter's tracking page.")


@case_action("request_information", "request-information")
def request_information(ticket: Ticket, form: RequestInformationForm) -> str:
    casework.request_information(
        ticket,
        form.question.data,
        staff=signed_in_staff(),
        now=utcnow(),
        lost_link_url=lost_link_url,
        expect_version=form.version.data,
    )
    return _("Your question was sent. The report now waits for the reporter's answer.")


@case_action("note", "notes")
def add_note(ticket: Ticket, form: NoteForm) -> str:
    casework.add_note(ticket, form.note.data, staff=signed_in_staff(), now=utcnow())
    return _("Note added.")


@case_action("merge", "merge")
def merge(ticket: Ticket, form: MergeForm) -> str:
    """Merge this report into another one (typed, or chosen from the related reports)."""
    me = signed_in_staff()
    target = find_ticket_by_reference(form.target.data)
    if target is None or not can_see_ticket(me, target):
        # The same words whether it does not exist or is another team's.
        raise CaseworkRefused(CaseworkRefused.UNKNOWN_TARGET)
    casework.merge(
        ticket,
        target,
        staff=me,
        now=utcnow(),
        lost_link_url=lost_link_url,
        expect_version=form.version.data,
    )
    return _("This report was merged into %(reference)s.", reference=target.reference)


@case_action("move_team", "team")
def move_to_team(ticket: Ticket, form: MoveTeamForm) -> str:
    """Send the report to another team; that team's automatic assignment applies."""
    team = db.session.get(Team, int(form.team.data))
    now = utcnow()
    casework.move_to_team(
        ticket, team, staff=signed_in_staff(), now=now, expect_version=form.version.data
    )
    assignment.auto_assign(ticket, now=now)
    return _("Sent to %(team)s.", team=team.name)


@case_action("serious_incident", "serious-incident")
def flag_serious_incident(ticket: Ticket, form: SeriousIncidentForm) -> str:
    casework.flag_serious_incident(
        ticket, staff=signed_in_staff(), now=utcnow(), expect_version=form.version.data
    )
    return _("Flagged as a possible serious incident.")


@case_action("decide", "decision")
def decide(ticket: Ticket, form: DecideForm) -> str:
    """Decide the report with a statement of reasons, or answer its appeal; the reporter is
    told (on their page, and by e-mail if they agreed to it)."""
    in_force = decisions.current_decision(ticket)
    if (
        ticket.status is Status.DECIDED
        and in_force is not None
        and in_force.decided_by_id == signed_in_staff().id
    ):
        # The same form sent twice (a double click, a reload): the decision it made stands.
        return _("This decision has been sent.")
    decision = decisions.decide(
        ticket,
        outcome=Outcome(form.outcome.data),
        remedies=[Remedy(value) for value in form.remedies.data],
        remedy_details=form.remedy_details.data,
        fixed_in_version_id=form.fixed_in_version,
        facts=form.facts.data,
        measure=form.measure.data,
        automated_means=AutomatedMeans(form.automated_means.data),
        policy_clause=form.policy_clause.data,
        language=form.language.data,
        appeal_result=AppealResult(form.appeal_result.data) if "appeal_result" in form else None,
        staff=signed_in_staff(),
        now=utcnow(),
        lost_link_url=lost_link_url,
        expect_version=form.version.data,
    )
    emailed = casework.will_email_reporter(ticket)
    if decision.appeal_result is not None and emailed:
        return _(
            "Your answer to the appeal is on the reporter's tracking page and is being e-mailed "
            "to them."
        )
    if decision.appeal_result is not None:
        return _("Your answer to the appeal is on the reporter's tracking page.")
    if emailed:
        return _("The decision is on the reporter's tracking page and is being e-mailed to them.")
    return _("The decision is on the reporter's tracking page.")
