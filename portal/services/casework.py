"""What staff do to a ticket: assign, move through the status machine, classify, reply, note,
merge, flag, close as spam.

Each function changes only what it names, records one or more events naming the member of staff
(the session's hooks turn every event into an audit entry) and leaves the commit to the caller,
so that a view's action is one transaction. ``expect_version`` is the ticket's ``row_version``
as the form showed it: if someone else saved the ticket since, ``StaleTicket`` is raised and
nothing changes (the ``row_version`` column also stops a concurrent UPDATE at the database).
"""

from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa

from portal.access import CASEWORK
from portal.extensions import db
from portal.models import (
    Actor,
    Appeal,
    Attachment,
    Category,
    Decision,
    EventKind,
    SavedReply,
    Severity,
    StaffUser,
    Status,
    Team,
    Ticket,
    TicketEvent,
)
from portal.models.routing import TeamMembership
from portal.services import audit, sla
from portal.services.errors import CaseworkRefused, StaleTicket
from portal.services.outbox import queue_email
from portal.services.status import ALLOWED_TRANSITIONS, OPEN_STATES, can_transition, transition

# Why a ticket went back to its team's queue (besides portal.services.assignment's reasons).
UNASSIGNED_ON_MERGE = "merged"
UNASSIGNED_AS_SPAM = "spam"
UNASSIGNED_ON_MOVE = "moved"


# How far back "related tickets" (merge candidates) reach.
RELATED_WINDOW = timedelta(days=30)
RELATED_LIMIT = 10

# Builds the absolute URL of the page where a reporter recovers their link.
UrlBuilder = Callable[[], str]

# Moves the status form never offers, because each has a way of its own: merged (the merge
# action), awaiting the reporter (asking them a question, which they are told about), withdrawn
# and appealed (the reporter's own moves), decided and closed (a decision carries a statement of
# reasons, which the decision action asks for: portal.services.decisions; closing follows a
# decision).
NOT_ON_THE_STATUS_FORM = frozenset(
    {
        Status.MERGED,
        Status.AWAITING_REPORTER,
        Status.WITHDRAWN,
        Status.APPEALED,
        Status.DECIDED,
        Status.CLOSED,
    }
)


def check_version(ticket: Ticket, expect_version: int | None) -> None:
    if expect_version is not None and expect_version != ticket.row_version:
        raise StaleTicket()


def _event(
    ticket: Ticket, kind: EventKind, staff: StaffUser, now: datetime, *, touch=True, **fields
):
    """Add an event by ``staff``. ``touch`` marks the ticket updated, which bumps its
    ``row_version``: an event that changes nothing about the ticket (a note) leaves it."""
    event = TicketEvent(kind=kind, actor=Actor.STAFF, staff_id=staff.id, created_at=now, **fields)
    ticket.events.append(event)
    if touch:
        ticket.updated_at = now
    return event


def can_be_replied_to(ticket: Ticket) -> bool:
    """Withdrawn and merged reports are done with; spam gets no reply (its address may be
    someone else's); an erased report has no one left to reply to."""
    return (
        ticket.status not in (Status.WITHDRAWN, Status.MERGED)
        and not ticket.is_spam
        and ticket.erased_at is None
    )


def is_team_member(user: StaffUser, team_id: int | None) -> bool:
    if team_id is None:
        return False
    return db.session.get(TeamMembership, {"team_id": team_id, "user_id": user.id}) is not None


def contested_decider_id(ticket: Ticket) -> int | None:
    """Under appeal, who took the decision under appeal: an appeal is reviewed by someone else,
    so they can neither be assigned the ticket nor answer the appeal. None otherwise."""
    if ticket.status is not Status.APPEALED:
        return None
    return db.session.scalar(
        sa.select(Decision.decided_by_id)
        .join(Appeal, Appeal.decision_id == Decision.id)
        .where(Appeal.ticket_id == ticket.id, Appeal.answer_id.is_(None))
    )


def assign(
    ticket: Ticket,
    assignee: StaffUser | None,
    *,
    staff: StaffUser | None,
    now: datetime,
    expect_version: int | None = None,
    reason: str | None = None,
) -> TicketEvent | None:
    """Give ``ticket`` to ``assignee`` (a member of its team), or back to the team's queue
    (``assignee`` None). ``staff`` None means the system did it (auto-assignment, a disabled
    account); ``reason`` is a code the history explains. Returns None if nothing changed.

    Refused (``CaseworkRefused``) for someone outside the team, a ticket no longer worked on,
    and, under appeal, the person whose decision is under appeal (``ORIGINAL_DECIDER``)."""
    check_version(ticket, expect_version)
    if assignee is not None and (
        not assignee.has_any_role(CASEWORK)
        or not assignee.is_active
        or not is_team_member(assignee, ticket.team_id)
    ):
        raise CaseworkRefused(CaseworkRefused.NOT_A_MEMBER)
    if ticket.status not in OPEN_STATES and ticket.status is not Status.APPEALED:
        raise CaseworkRefused(CaseworkRefused.NOT_OPEN)
    if assignee is not None and assignee.id == contested_decider_id(ticket):
        raise CaseworkRefused(CaseworkRefused.ORIGINAL_DECIDER)
    previous = ticket.assignee_id
    new = assignee.id if assignee else None
    if previous == new:
        return None
    ticket.assignee = assignee
    detail = {"from": previous, "to": new}
    if reason:
        detail["reason"] = reason
    if staff is None:
        event = TicketEvent(
            kind=EventKind.ASSIGNED,
            actor=Actor.SYSTEM,
            is_public=False,
            created_at=now,
            detail=detail,
        )
        ticket.events.append(event)
        ticket.updated_at = now
        return event
    return _event(ticket, EventKind.ASSIGNED, staff, now, is_public=False, detail=detail)


def change_status(
    ticket: Ticket,
    to: Status,
    *,
    staff: StaffUser,
    now: datetime,
    expect_version: int | None = None,
) -> TicketEvent:
    """Move ``ticket`` along the state machine (``InvalidTransition`` otherwise)."""
    check_version(ticket, expect_version)
    event = transition(ticket, to, now=now, actor=Actor.STAFF)
    event.staff_id = staff.id
    return event


def status_choices(ticket: Ticket, now: datetime) -> list[Status]:
    """The statuses staff may move ``ticket`` to from the status form, in the enum's order."""
    return [
        status
        for status in Status
        if status in ALLOWED_TRANSITIONS[ticket.status]
        and status not in NOT_ON_THE_STATUS_FORM
        and can_transition(ticket, status, now)
    ]


def recategorise(
    ticket: Ticket,
    category: Category,
    *,
    staff: StaffUser,
    now: datetime,
    expect_version: int | None = None,
) -> TicketEvent | None:
    check_version(ticket, expect_version)
    if category is ticket.category:
        return None
    detail = {"from": ticket.category.value, "to": category.value}
    ticket.category = category
    sla.recompute_deadlines(ticket)  # a category may have a policy of its own
    return _event(ticket, EventKind.RECATEGORISED, staff, now, is_public=False, detail=detail)


def set_severity(
    ticket: Ticket,
    severity: Severity,
    *,
    staff: StaffUser,
    now: datetime,
    expect_version: int | None = None,
) -> TicketEvent | None:
    """The triaged severity; the reporter's own stays beside it, unchanged."""
    check_version(ticket, expect_version)
    if severity is ticket.severity:
        return None
    detail = {
        "from": ticket.severity.value if ticket.severity else None,
        "to": severity.value,
        "reported": ticket.reporter_severity.value,
    }
    ticket.severity = severity
    sla.recompute_deadlines(ticket)
    return _event(ticket, EventKind.SEVERITY_SET, staff, now, is_public=False, detail=detail)


def classify(
    ticket: Ticket,
    *,
    category: Category,
    severity: Severity | None,
    staff: StaffUser,
    now: datetime,
    expect_version: int | None = None,
) -> list[TicketEvent]:
    """Re-categorise and set the triaged severity in one go, with one event for each that
    changed (none if nothing did). ``severity`` None leaves the severity as it is."""
    check_version(ticket, expect_version)
    events = [recategorise(ticket, category, staff=staff, now=now)]
    if severity is not None:
        events.append(set_severity(ticket, severity, staff=staff, now=now))
    return [event for event in events if event is not None]


def add_note(ticket: Ticket, text: str, *, staff: StaffUser, now: datetime) -> TicketEvent:
    """An internal note: staff only, never shown to the reporter. A note changes nothing about
    the ticket, so it takes no version and makes no one else's form out of date.

    Raises ``CaseworkRefused`` (``NOT_OPEN``) once the reporter's data is erased: notes quote
    reporters, and nothing new about them may be written down."""
    if ticket.erased_at is not None:
        raise CaseworkRefused(CaseworkRefused.NOT_OPEN)
    return _event(ticket, EventKind.NOTE_ADDED, staff, now, touch=False, is_public=False, body=text)


def reply(
    ticket: Ticket,
    text: str,
    *,
    staff: StaffUser,
    now: datetime,
    lost_link_url: UrlBuilder,
    expect_version: int | None = None,
    saved_reply_id: int | None = None,
) -> TicketEvent:
    """A public reply: on the tracking page, and e-mailed in the reporter's locale if they gave
    an address and agreed to be contacted."""
    check_version(ticket, expect_version)
    if not can_be_replied_to(ticket):
        raise CaseworkRefused(CaseworkRefused.NOT_OPEN)
    detail = {"saved_reply_id": saved_reply_id} if saved_reply_id else None
    event = _event(ticket, EventKind.REPLIED, staff, now, is_public=True, body=text, detail=detail)
    sla.record_public_update(ticket, now=now)
    email_reporter(ticket, "reply", now=now, text=text, lost_link_url=lost_link_url())
    return event


def request_information(
    ticket: Ticket,
    question: str,
    *,
    staff: StaffUser,
    now: datetime,
    lost_link_url: UrlBuilder,
    expect_version: int | None = None,
) -> TicketEvent:
    """Ask the reporter a question and wait for them (status awaiting reporter). A new or
    triaged ticket is first moved to investigating, as the state machine requires."""
    check_version(ticket, expect_version)
    if ticket.status not in OPEN_STATES or ticket.status is Status.AWAITING_REPORTER:
        raise CaseworkRefused(CaseworkRefused.NOT_OPEN)
    if ticket.status is Status.NEW:
        change_status(ticket, Status.TRIAGED, staff=staff, now=now)
    if ticket.status is Status.TRIAGED:
        change_status(ticket, Status.INVESTIGATING, staff=staff, now=now)
    event = _event(
        ticket, EventKind.INFORMATION_REQUESTED, staff, now, is_public=True, body=question
    )
    sla.record_public_update(ticket, now=now)  # before the pause that follows
    change_status(ticket, Status.AWAITING_REPORTER, staff=staff, now=now)
    email_reporter(
        ticket, "information_requested", now=now, text=question, lost_link_url=lost_link_url()
    )
    return event


def will_email_reporter(ticket: Ticket) -> bool:
    """Whether replies and questions also go to the reporter by e-mail (else only their page)."""
    return bool(ticket.contact_email and ticket.consent_contact)


def email_reporter(ticket: Ticket, template: str, *, now: datetime, **context) -> None:
    if will_email_reporter(ticket):
        queue_email(
            to=ticket.contact_email,
            template=template,
            locale=ticket.locale,
            now=now,
            ticket=ticket,
            reference=ticket.reference,
            **context,
        )


def merge(
    ticket: Ticket,
    into: Ticket,
    *,
    staff: StaffUser,
    now: datetime,
    lost_link_url: UrlBuilder,
    expect_version: int | None = None,
) -> TicketEvent:
    """Merge ``ticket`` (a duplicate) into ``into``. The duplicate's reporter keeps their link:
    their page says where the work continues, and they are told by e-mail."""
    check_version(ticket, expect_version)
    if into.id == ticket.id:
        raise CaseworkRefused(CaseworkRefused.SAME_TICKET)
    if into.status not in OPEN_STATES and into.status is not Status.APPEALED:
        raise CaseworkRefused(CaseworkRefused.MERGE_TARGET)
    if ticket.status not in OPEN_STATES:
        raise CaseworkRefused(CaseworkRefused.NOT_OPEN)
    assign(ticket, None, staff=staff, now=now, reason=UNASSIGNED_ON_MERGE)
    event = change_status(ticket, Status.MERGED, staff=staff, now=now)
    event.detail = {"into": into.reference}
    ticket.merged_into = into
    _event(into, EventKind.MERGED, staff, now, is_public=False, detail={"from": ticket.reference})
    email_reporter(ticket, "merged", now=now, lost_link_url=lost_link_url())
    return event


def move_to_team(
    ticket: Ticket,
    team: Team,
    *,
    staff: StaffUser,
    now: datetime,
    expect_version: int | None = None,
) -> TicketEvent:
    """Send ``ticket`` to ``team``'s queue: whoever had it gives it up, and the history says
    who moved it from where. The new team's automatic assignment is the caller's to apply."""
    check_version(ticket, expect_version)
    if ticket.status not in OPEN_STATES and ticket.status is not Status.APPEALED:
        raise CaseworkRefused(CaseworkRefused.NOT_OPEN)
    if ticket.team_id == team.id:
        raise CaseworkRefused(CaseworkRefused.SAME_TEAM)
    assign(ticket, None, staff=staff, now=now, reason=UNASSIGNED_ON_MOVE)
    detail = {"from": ticket.team_id, "to": team.id}
    ticket.team = team
    ticket.team_id = team.id  # read before any flush (the SLA policy is chosen by team)
    sla.recompute_deadlines(ticket)  # the new team's calendar and policies
    return _event(ticket, EventKind.ROUTED, staff, now, is_public=False, detail=detail)


def flag_serious_incident(
    ticket: Ticket,
    *,
    staff: StaffUser,
    now: datetime,
    expect_version: int | None = None,
) -> TicketEvent:
    check_version(ticket, expect_version)
    if ticket.serious_incident_at is not None:
        raise CaseworkRefused(CaseworkRefused.ALREADY_FLAGGED)
    ticket.serious_incident_at = now
    return _event(ticket, EventKind.SERIOUS_INCIDENT_FLAGGED, staff, now, is_public=False)


def mark_spam(
    ticket: Ticket,
    *,
    staff: StaffUser,
    now: datetime,
    expect_version: int | None = None,
) -> TicketEvent:
    """Close an open ticket as spam: no reply, no e-mail, and out of statistics and exports."""
    check_version(ticket, expect_version)
    if ticket.status not in OPEN_STATES:
        raise CaseworkRefused(CaseworkRefused.NOT_OPEN)
    assign(ticket, None, staff=staff, now=now, reason=UNASSIGNED_AS_SPAM)
    ticket.is_spam = True
    _event(ticket, EventKind.MARKED_SPAM, staff, now, is_public=False)
    event = transition(ticket, Status.CLOSED, now=now, actor=Actor.STAFF, spam=True)
    event.staff_id = staff.id
    return event


def related_tickets(
    ticket: Ticket, *, now: datetime, visible_team_ids: set[int] | None
) -> list[Ticket]:
    """Merge candidates: open tickets about the same model version and category from the last
    30 days, newest first, within what the viewer may see."""
    if ticket.model_version_id is None:
        return []
    query = (
        sa.select(Ticket)
        .where(
            Ticket.model_version_id == ticket.model_version_id,
            Ticket.category == ticket.category,
            Ticket.id != ticket.id,
            Ticket.created_at >= now - RELATED_WINDOW,
            Ticket.status.in_(OPEN_STATES | {Status.APPEALED}),
        )
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .limit(RELATED_LIMIT)
    )
    if visible_team_ids is not None:
        query = query.where(Ticket.team_id.in_(visible_team_ids))
    return list(db.session.scalars(query))


def saved_replies_for(ticket: Ticket) -> list[SavedReply]:
    """The saved replies an agent may start from: the ticket's team's, in the reporter's
    language, by title."""
    if ticket.team_id is None:
        return []
    return list(
        db.session.scalars(
            sa.select(SavedReply)
            .where(SavedReply.team_id == ticket.team_id, SavedReply.locale == ticket.locale)
            .order_by(SavedReply.title, SavedReply.id)
        )
    )


def record_download(
    ticket: Ticket,
    attachment: Attachment,
    *,
    staff: StaffUser,
    now: datetime,
    secret_key: str,
    preview: bool = False,
) -> None:
    """Note in the audit log that ``staff`` fetched one of the ticket's evidence files (to
    download it, or as the preview on the case page). The caller commits."""
    audit.append_by_staff(
        "attachment.downloaded",
        staff_id=staff.id,
        object_type="ticket",
        object_id=ticket.reference,
        now=now,
        secret_key=secret_key,
        attachment_id=attachment.id,
        preview=preview,
    )
