"""Who works on a ticket when nobody chose: auto-assignment on arrival, tickets handed back
to their team's queue when the person holding them leaves it (or is disabled), and an appealed
ticket handed over by the person whose decision is under appeal.

Each records an ASSIGNED event from the system through ``casework.assign``, with a reason code
the history explains: ``auto``, ``account_disabled``, ``left_team`` or ``appeal_review``.
"""

from datetime import datetime

import sqlalchemy as sa

from portal.extensions import db
from portal.models import Role, StaffRole, StaffUser, Status, Ticket, TicketEvent
from portal.models.routing import StaffLanguage, TeamMembership
from portal.services.casework import assign, contested_decider_id
from portal.services.status import OPEN_STATES
from portal.services.writing import begin_write

# Tickets someone is still working on: what counts towards a workload, and what goes back to
# the queue when the person holding them cannot carry on.
WORKING_STATES = OPEN_STATES | {Status.APPEALED}
# Who takes new tickets automatically; administrators and others only by hand.
ASSIGNABLE_ROLES = frozenset({Role.AGENT, Role.OWNER})

AUTO = "auto"
ACCOUNT_DISABLED = "account_disabled"
LEFT_TEAM = "left_team"
NO_LONGER_CASEWORK = "no_longer_casework"
APPEAL_REVIEW = "appeal_review"


def least_busy_speaker(
    team_id: int, locale: str, *, excluding: int | None = None
) -> StaffUser | None:
    """The active agent or owner of the team who speaks ``locale`` and holds the fewest working
    tickets (lowest id on a tie), or None when nobody in the team speaks it. ``excluding``:
    the id of someone who may not take this ticket (whose decision is under appeal)."""
    workload = (
        sa.select(sa.func.count(Ticket.id))
        .where(Ticket.assignee_id == StaffUser.id, Ticket.status.in_(WORKING_STATES))
        .correlate(StaffUser)
        .scalar_subquery()
    )
    conditions = [
        StaffUser.is_active.is_(True),
        sa.exists().where(StaffRole.user_id == StaffUser.id, StaffRole.role.in_(ASSIGNABLE_ROLES)),
    ]
    if excluding is not None:
        conditions.append(StaffUser.id != excluding)
    return db.session.scalar(
        sa.select(StaffUser)
        .join(
            TeamMembership,
            sa.and_(TeamMembership.user_id == StaffUser.id, TeamMembership.team_id == team_id),
        )
        .join(
            StaffLanguage,
            sa.and_(StaffLanguage.user_id == StaffUser.id, StaffLanguage.locale == locale),
        )
        .where(*conditions)
        .order_by(workload, StaffUser.id)
        .limit(1)
    )


def auto_assign(ticket: Ticket, *, now: datetime) -> TicketEvent | None:
    """If the ticket's team assigns automatically, give the ticket to its least busy member who
    speaks the ticket's language; with no such member it waits in the team's queue. Under
    appeal, never to the person whose decision is under appeal. Works on a ticket not flushed
    yet (as routing leaves it). Returns the event, or None."""
    team = ticket.team
    if team is None or not team.auto_assign:
        return None
    member = least_busy_speaker(team.id, ticket.locale, excluding=contested_decider_id(ticket))
    if member is None:
        return None
    return assign(ticket, member, staff=None, now=now, reason=AUTO)


def hand_over_appeal(ticket: Ticket, *, now: datetime) -> TicketEvent | None:
    """Once ``ticket`` is under appeal: if the person whose decision is under appeal holds it,
    they give it up (back to the team's queue); then, if nobody holds it, the team's automatic
    assignment applies (never to them). Returns the last event, or None if nothing changed."""
    event = None
    if ticket.assignee_id is not None and ticket.assignee_id == contested_decider_id(ticket):
        event = assign(ticket, None, staff=None, now=now, reason=APPEAL_REVIEW)
    if ticket.assignee_id is None:
        event = auto_assign(ticket, now=now) or event
    return event


def release_tickets(
    user: StaffUser, *, now: datetime, reason: str, team_id: int | None = None
) -> list[Ticket]:
    """Hand ``user``'s working tickets (only those of ``team_id`` when given) back to their
    teams' queues, each with an ASSIGNED event from the system. Returns them; flushes nothing.

    The tickets are read under a write lock, so that a colleague's save in the meantime cannot
    make this (which has no form to come back to) fail on a stale version."""
    begin_write()
    query = (
        sa.select(Ticket)
        .where(Ticket.assignee_id == user.id, Ticket.status.in_(WORKING_STATES))
        .with_for_update()
    )
    if team_id is not None:
        query = query.where(Ticket.team_id == team_id)
    tickets = list(db.session.scalars(query.order_by(Ticket.id)))
    for ticket in tickets:
        assign(ticket, None, staff=None, now=now, reason=reason)
    return tickets
