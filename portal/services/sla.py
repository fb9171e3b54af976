"""Service levels: which policy a ticket falls under, on which calendar, and when it is due.

Three timers run on every open ticket:
- first response, from submission, met by the first public reply or question from staff;
- next update, from the last such reply, met by the next one (it starts with the first reply);
- resolution, from submission, met by the decision.
While the ticket awaits the reporter every timer stops, and the reporter's answer restarts them
with the time that was left. The deadlines are columns on the ticket, kept here and nowhere
else: ``recompute_deadlines`` runs whenever severity, category, team or status changes, and
``next_due_at`` (the earliest deadline still running) orders the queue and wakes the sweep.

Policies come from the ``sla_policies`` table where an owner or administrator has set one;
otherwise the built-in defaults below apply.
"""

from dataclasses import dataclass
from datetime import datetime, time, timedelta

import sqlalchemy as sa
from flask_babel import ngettext

from portal.extensions import db
from portal.models import DurationUnit, Severity, SlaPolicy, Status, Team, Ticket
from portal.services.calendar import Calendar, add_working_time, working_time_between

# The statuses in which the timers run (or, awaiting the reporter, stand still).
TIMED_STATUSES = frozenset(
    {
        Status.NEW,
        Status.TRIAGED,
        Status.INVESTIGATING,
        Status.AWAITING_REPORTER,
        Status.APPEALED,
    }
)

# A team without working hours of its own works Monday to Friday, 09:00 to 17:00.
DEFAULT_WORKING_HOURS = tuple((weekday, time(9), time(17)) for weekday in range(5))


@dataclass(frozen=True)
class Span:
    amount: int
    unit: DurationUnit

    def on(self, calendar: Calendar) -> timedelta:
        """As working time on ``calendar``: hours as they are, business days as days' work."""
        if self.unit is DurationUnit.BUSINESS_DAYS:
            return self.amount * calendar.business_day
        return timedelta(hours=self.amount)


@dataclass(frozen=True)
class Terms:
    """What a policy promises: each timer's length, and whether it counts business hours."""

    business_hours: bool
    first_response: Span
    next_update: Span | None
    resolution: Span

    @classmethod
    def of(cls, policy: SlaPolicy) -> "Terms":
        next_update = (
            Span(policy.next_update_amount, policy.next_update_unit)
            if policy.next_update_amount is not None and policy.next_update_unit is not None
            else None
        )
        return cls(
            business_hours=policy.business_hours,
            first_response=Span(policy.first_response_amount, policy.first_response_unit),
            next_update=next_update,
            resolution=Span(policy.resolution_amount, policy.resolution_unit),
        )


HOURS, DAYS = DurationUnit.HOURS, DurationUnit.BUSINESS_DAYS
DEFAULT_TERMS = {
    Severity.CRITICAL: Terms(False, Span(1, HOURS), Span(4, HOURS), Span(24, HOURS)),
    Severity.HIGH: Terms(True, Span(8, HOURS), Span(2, DAYS), Span(5, DAYS)),
    Severity.MEDIUM: Terms(True, Span(2, DAYS), Span(5, DAYS), Span(15, DAYS)),
    Severity.LOW: Terms(True, Span(5, DAYS), Span(10, DAYS), Span(30, DAYS)),
}
DEFAULT_APPEAL_TERMS = Terms(True, Span(2, DAYS), None, Span(10, DAYS))


def terms_for(ticket: Ticket) -> Terms:
    """The most specific policy for the ticket: one for its category and team, then for its
    category, then for its team, then for its severity alone; else the built-in default."""
    for_appeals = ticket.status is Status.APPEALED
    query = sa.select(SlaPolicy).where(
        SlaPolicy.for_appeals.is_(for_appeals),
        sa.or_(SlaPolicy.category.is_(None), SlaPolicy.category == ticket.category),
        sa.or_(SlaPolicy.team_id.is_(None), SlaPolicy.team_id == ticket.team_id),
    )
    if not for_appeals:
        query = query.where(SlaPolicy.severity == ticket.effective_severity)
    policies = db.session.scalars(query.order_by(SlaPolicy.id)).all()
    if policies:
        best = max(policies, key=lambda p: (p.category is not None, p.team_id is not None, -p.id))
        return Terms.of(best)
    return DEFAULT_APPEAL_TERMS if for_appeals else DEFAULT_TERMS[ticket.effective_severity]


def published_terms(severity: Severity) -> Terms:
    """What we promise every reporter for ``severity``: the policy that names neither a category
    nor a team, else the built-in default."""
    policy = db.session.scalar(
        sa.select(SlaPolicy)
        .where(
            SlaPolicy.for_appeals.is_(False),
            SlaPolicy.severity == severity,
            SlaPolicy.category.is_(None),
            SlaPolicy.team_id.is_(None),
        )
        .order_by(SlaPolicy.id)
        .limit(1)
    )
    return Terms.of(policy) if policy else DEFAULT_TERMS[severity]


def describe(span: Span, *, business_hours: bool) -> str:
    """A span in words, in the viewer's language: "1 hour", "8 working hours", "2 working days"."""
    if span.unit is DurationUnit.BUSINESS_DAYS:
        return ngettext("%(num)d working day", "%(num)d working days", span.amount)
    if business_hours:
        return ngettext("%(num)d working hour", "%(num)d working hours", span.amount)
    return ngettext("%(num)d hour", "%(num)d hours", span.amount)


def team_calendar(team: Team | None, *, business_hours: bool) -> Calendar:
    """The calendar a team's timers run on: its working week and holidays, in its time zone."""
    zone = team.timezone if team is not None else "UTC"
    if not business_hours:
        return Calendar.round_the_clock(zone)
    hours = DEFAULT_WORKING_HOURS
    if team is not None and team.working_hours:
        hours = tuple(
            (int(day), time.fromisoformat(start), time.fromisoformat(end))
            for day, start, end in team.working_hours
        )
    return Calendar(
        timezone=zone,
        working_hours=hours,
        holidays_country=team.holidays_country if team is not None else None,
        holidays_subdivision=team.holidays_subdivision if team is not None else None,
    )


def calendar_for(ticket: Ticket) -> tuple[Terms, Calendar]:
    # Reading the policies and the team must not flush the caller's unsaved changes: a save
    # that lost a race is then stopped at the caller's commit, like any other.
    with db.session.no_autoflush:
        terms = terms_for(ticket)
        return terms, team_calendar(ticket.team, business_hours=terms.business_hours)


def recompute_deadlines(ticket: Ticket) -> None:
    """Set the ticket's deadlines from its policy, calendar and history; flushes nothing.

    Each timer is due its length of working time after it started, plus the working time it
    spent stopped while the ticket awaited the reporter.
    """
    if ticket.status not in TIMED_STATUSES:
        ticket.next_due_at = None
        return
    terms, calendar = calendar_for(ticket)
    # `or 0`: a ticket not yet flushed has no column defaults yet.
    paused = timedelta(seconds=ticket.sla_paused_seconds or 0)
    ticket.first_response_due_at = add_working_time(
        ticket.created_at, terms.first_response.on(calendar) + paused, calendar
    )
    ticket.resolve_due_at = add_working_time(
        ticket.created_at, terms.resolution.on(calendar) + paused, calendar
    )
    if ticket.last_update_at is not None and terms.next_update is not None:
        paused_since = timedelta(seconds=ticket.sla_update_paused_seconds or 0)
        ticket.next_update_due_at = add_working_time(
            ticket.last_update_at, terms.next_update.on(calendar) + paused_since, calendar
        )
    else:
        ticket.next_update_due_at = None
    ticket.next_due_at = None if ticket.sla_paused_at is not None else earliest_running(ticket)


def earliest_running(ticket: Ticket) -> datetime | None:
    """The earliest deadline not yet met: the first response until someone replies, then the
    next update; and the resolution throughout."""
    running = [ticket.resolve_due_at]
    if ticket.first_response_at is None:
        running.append(ticket.first_response_due_at)
    else:
        running.append(ticket.next_update_due_at)
    return min((due for due in running if due is not None), default=None)


def record_public_update(ticket: Ticket, *, now: datetime) -> None:
    """Staff told the reporter something (a reply, a question): that meets the first-response
    timer the first time, and restarts the next-update timer every time."""
    if ticket.first_response_at is None:
        ticket.first_response_at = now
    ticket.last_update_at = now
    ticket.sla_update_paused_seconds = 0
    recompute_deadlines(ticket)


def status_changed(ticket: Ticket, before: Status, *, now: datetime) -> None:
    """Stop the timers while the ticket awaits the reporter, restart them with the time that was
    left when it no longer does, and recompute (which stops them once it is decided, closed,
    withdrawn or merged)."""
    if ticket.status is Status.AWAITING_REPORTER and ticket.sla_paused_at is None:
        ticket.sla_paused_at = now
    elif before is Status.AWAITING_REPORTER and ticket.sla_paused_at is not None:
        _terms, calendar = calendar_for(ticket)
        stopped = working_time_between(ticket.sla_paused_at, now, calendar)
        seconds = int(stopped.total_seconds())
        ticket.sla_paused_seconds = (ticket.sla_paused_seconds or 0) + seconds
        ticket.sla_update_paused_seconds = (ticket.sla_update_paused_seconds or 0) + seconds
        ticket.sla_paused_at = None
    recompute_deadlines(ticket)
