"""Service levels: which policy a ticket falls under, on which calendar, and when it is due.

Three timers run on every open ticket:
- first response, from submission, met by the first public reply or question from staff;
- next update, from the last such reply, met by the next one (it starts with the first reply);
- resolution, from submission, met by the decision.
An appeal starts the first response and the resolution afresh, from the appeal, on the appeal's
terms (``start_appeal_clock``).
While the ticket awaits the reporter every timer stops, and the reporter's answer restarts them
with the time that was left. The deadlines are columns on the ticket, kept here and nowhere
else: ``recompute_deadlines`` runs whenever severity, category, team or status changes (and,
through portal.services.sla_admin, when a policy or a team's calendar changes), and
``next_due_at`` (the earliest deadline still running) orders the queue and wakes the sweep;
``at_risk_at`` marks a quarter of a running timer left (``in_state``).

Policies come from the ``sla_policies`` table where an owner or administrator has set one;
otherwise the built-in defaults below apply.
"""

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

import sqlalchemy as sa
from flask_babel import ngettext
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.i18n import offered_locales
from portal.models import (
    Actor,
    DurationUnit,
    EscalationLevel,
    EventKind,
    Role,
    Severity,
    SlaEscalation,
    SlaPolicy,
    SlaState,
    StaffRole,
    StaffUser,
    Status,
    Team,
    Ticket,
    TicketEvent,
    Timer,
)
from portal.models.routing import StaffLanguage
from portal.services import scope
from portal.services.calendar import (
    Calendar,
    add_working_time,
    validate_calendar,
    working_time_between,
)
from portal.services.links import portal_url
from portal.services.outbox import queue_email
from portal.services.writing import begin_write

logger = logging.getLogger(__name__)

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
        if self.unit is DurationUnit.MINUTES:
            return timedelta(minutes=self.amount)
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
    team_id = ticket.team.id if ticket.team is not None else ticket.team_id
    query = sa.select(SlaPolicy).where(
        SlaPolicy.for_appeals.is_(for_appeals),
        sa.or_(SlaPolicy.category.is_(None), SlaPolicy.category == ticket.category),
        sa.or_(SlaPolicy.team_id.is_(None), SlaPolicy.team_id == team_id),
    )
    if not for_appeals:
        query = query.where(SlaPolicy.severity == ticket.effective_severity)
    return _most_specific(ticket, db.session.scalars(query.order_by(SlaPolicy.id)).all())


def terms_finder() -> Callable[[Ticket], Terms]:
    """``terms_for`` for many tickets at once: every policy is read here, once."""
    policies = db.session.scalars(sa.select(SlaPolicy).order_by(SlaPolicy.id)).all()
    return lambda ticket: _most_specific(ticket, policies)


def _most_specific(ticket: Ticket, policies: Sequence[SlaPolicy]) -> Terms:
    for_appeals = ticket.status is Status.APPEALED
    team_id = ticket.team.id if ticket.team is not None else ticket.team_id
    applicable = [
        policy
        for policy in policies
        if policy.for_appeals is for_appeals
        and policy.category in (None, ticket.category)
        and policy.team_id in (None, team_id)
        and (for_appeals or policy.severity is ticket.effective_severity)
    ]
    if applicable:
        best = max(applicable, key=lambda p: (p.category is not None, p.team_id is not None, -p.id))
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
    """A span in words, in the viewer's language: "1 hour", "8 working hours", "2 working days",
    "30 minutes"."""
    if span.unit is DurationUnit.BUSINESS_DAYS:
        if business_hours:
            return ngettext("%(num)d working day", "%(num)d working days", span.amount)
        return ngettext("%(num)d day", "%(num)d days", span.amount)  # round the clock: 24 hours
    if span.unit is DurationUnit.MINUTES:
        if business_hours:
            return ngettext("%(num)d working minute", "%(num)d working minutes", span.amount)
        return ngettext("%(num)d minute", "%(num)d minutes", span.amount)
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
    calendar = Calendar(
        timezone=zone,
        working_hours=hours,
        holidays_country=team.holidays_country if team is not None else None,
        holidays_subdivision=team.holidays_subdivision if team is not None else None,
    )
    problems = validate_calendar(calendar)
    if problems:
        # A team's calendar that cannot be used must not stop reports being filed: its deadlines
        # run on the default working week until someone fixes it.
        logger.warning("team %s has an unusable calendar: %s", team.id, "; ".join(problems))
        return Calendar(timezone="UTC", working_hours=DEFAULT_WORKING_HOURS)
    return calendar


def calendar_for(ticket: Ticket, terms: Terms | None = None) -> tuple[Terms, Calendar]:
    # Reading the policies and the team must not flush the caller's unsaved changes: a save
    # that lost a race is then stopped at the caller's commit, like any other.
    with db.session.no_autoflush:
        if terms is None:
            terms = terms_for(ticket)
        return terms, team_calendar(ticket.team, business_hours=terms.business_hours)


def recompute_deadlines(
    ticket: Ticket, *, terms: Terms | None = None, taken: set["Step"] | None = None
) -> None:
    """Set the ticket's deadlines from its policy, calendar and history; flushes nothing.

    Each timer is due its length of working time after it started, plus the working time it
    spent stopped while the ticket awaited the reporter. ``terms`` and ``taken`` (the ticket's
    terms and escalation steps taken), when a caller recomputing many tickets has read them for
    all at once (``terms_finder``, ``taken_steps_of``), spare two queries a ticket.
    """
    if ticket.status not in TIMED_STATUSES:
        ticket.next_due_at = ticket.at_risk_at = ticket.next_escalation_at = None
        return
    terms, calendar = calendar_for(ticket, terms)
    # `or 0`: a ticket not yet flushed has no column defaults yet.
    paused = timedelta(seconds=ticket.sla_paused_seconds or 0)
    if ticket.first_response_at is None or ticket.first_response_due_at is None:
        # Once met, the first response's deadline is history: later pauses must not move it
        # (a late answer would then count as on time).
        ticket.first_response_due_at = add_working_time(
            clock_start(ticket), terms.first_response.on(calendar) + paused, calendar
        )
    ticket.resolve_due_at = add_working_time(
        clock_start(ticket), terms.resolution.on(calendar) + paused, calendar
    )
    if ticket.last_update_at is not None and terms.next_update is not None:
        paused_since = timedelta(seconds=ticket.sla_update_paused_seconds or 0)
        ticket.next_update_due_at = add_working_time(
            ticket.last_update_at, terms.next_update.on(calendar) + paused_since, calendar
        )
    else:
        ticket.next_update_due_at = None
    ticket.next_due_at = None if ticket.sla_paused_at is not None else earliest_running(ticket)
    ticket.at_risk_at = min(
        (
            due
            for running in running_timers(ticket)
            for level, due in running.step_times(calendar)
            if level is EscalationLevel.WARNING
        ),
        default=None,
    )
    schedule_escalations(ticket, calendar, taken)


def clock_start(ticket: Ticket) -> datetime:
    """When the first-response and resolution timers started: at submission, or, under appeal,
    when the reporter appealed (the appeal's terms count from there)."""
    if ticket.status is Status.APPEALED and ticket.appealed_at is not None:
        return ticket.appealed_at
    return ticket.created_at


def start_appeal_clock(ticket: Ticket, *, now: datetime) -> None:
    """The reporter appealed at ``now``: the appeal's timers start afresh (a first response and
    a decision are owed again, and nothing of the first handling's waits counts). Call before
    the move to ``appealed``, which recomputes the deadlines on the appeal's terms."""
    ticket.appealed_at = now
    ticket.first_response_at = ticket.first_response_due_at = None
    ticket.last_update_at = ticket.next_update_due_at = None
    ticket.sla_paused_at = None
    ticket.sla_paused_seconds = ticket.sla_update_paused_seconds = 0


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
    withdrawn or merged). A move between working statuses (new, triaged, investigating)
    changes no deadline, and costs nothing here: bulk status changes make many of them."""
    changes_deadlines = (
        (before in TIMED_STATUSES) != (ticket.status in TIMED_STATUSES)
        or Status.APPEALED in (before, ticket.status)  # appeals have terms of their own
        or Status.AWAITING_REPORTER in (before, ticket.status)  # a pause starts or ends
    )
    if not changes_deadlines:
        return
    if ticket.status is Status.AWAITING_REPORTER and ticket.sla_paused_at is None:
        ticket.sla_paused_at = now
    elif before is Status.AWAITING_REPORTER and ticket.sla_paused_at is not None:
        _terms, calendar = calendar_for(ticket)
        stopped = working_time_between(ticket.sla_paused_at, now, calendar)
        ticket.sla_paused_seconds = (ticket.sla_paused_seconds or 0) + int(stopped.total_seconds())
        # The next-update timer restarted at any reply sent during the pause: only the part of
        # the pause after it stopped that timer.
        update_stopped_since = max(ticket.sla_paused_at, ticket.last_update_at or now)
        update_stopped = working_time_between(update_stopped_since, now, calendar)
        ticket.sla_update_paused_seconds = (ticket.sla_update_paused_seconds or 0) + int(
            update_stopped.total_seconds()
        )
        ticket.sla_paused_at = None
    recompute_deadlines(ticket)


def in_state(state: SlaState, now: datetime) -> sa.ColumnElement[bool]:
    """The tickets whose running timers are in ``state`` at ``now``, as a condition on the
    ticket's columns (tickets whose clocks stand still, or have stopped, are in none).

    A ticket not recomputed since ``at_risk_at`` was added (before ``flask sla recompute``) has
    none, and counts as on time until its deadline.
    """
    if state is SlaState.BREACHED:
        return Ticket.next_due_at <= now
    if state is SlaState.AT_RISK:
        return sa.and_(Ticket.next_due_at > now, Ticket.at_risk_at <= now)
    return sa.and_(
        Ticket.next_due_at > now, sa.or_(Ticket.at_risk_at.is_(None), Ticket.at_risk_at > now)
    )


# -- the sweep: warnings before a deadline, escalation after it ----------------------------------

# The sweep's condition, the same as the partial index ix_tickets_escalation_due's.
ESCALATION_DUE = Ticket.next_escalation_at.is_not(None)
WARNING_SHARE = 0.75  # of the timer's length: the person working on it is warned
ADMINS_SHARE = 0.5  # of the timer's length past the deadline: the administrators are told
SWEEP_BATCH = 200

STEP_EVENTS = {
    EscalationLevel.WARNING: EventKind.SLA_WARNING,
    EscalationLevel.BREACH: EventKind.SLA_BREACHED,
    EscalationLevel.ADMINS: EventKind.SLA_ESCALATED,
}

Step = tuple[Timer, datetime, EscalationLevel]  # (timer, its deadline, level)


@dataclass(frozen=True)
class RunningTimer:
    timer: Timer
    start: datetime
    deadline: datetime
    # Working time it stood still while the ticket awaited the reporter: its deadline is that
    # much later than its start plus its length.
    stopped: timedelta

    def length(self, calendar: Calendar) -> timedelta:
        """The timer's own length in working time, without the time it stood still."""
        return working_time_between(self.start, self.deadline, calendar) - self.stopped

    def step_times(self, calendar: Calendar):
        """When each step falls due, on the calendar: the warning once WARNING_SHARE of the
        timer's length has run (so with a quarter of it left, however long it stood still),
        the breach at the deadline, the administrators ADMINS_SHARE of its length after."""
        length = self.length(calendar)
        warning = add_working_time(self.start, length * WARNING_SHARE + self.stopped, calendar)
        yield EscalationLevel.WARNING, warning
        yield EscalationLevel.BREACH, self.deadline
        yield (
            EscalationLevel.ADMINS,
            add_working_time(self.deadline, length * ADMINS_SHARE, calendar),
        )


def running_timers(ticket: Ticket) -> list[RunningTimer]:
    """Each timer now running on the ticket (none while it awaits the reporter)."""
    if ticket.status not in TIMED_STATUSES or ticket.sla_paused_at is not None:
        return []
    stopped = timedelta(seconds=ticket.sla_paused_seconds or 0)
    timers = []
    if ticket.first_response_at is None and ticket.first_response_due_at:
        timers.append(
            RunningTimer(
                Timer.FIRST_RESPONSE, clock_start(ticket), ticket.first_response_due_at, stopped
            )
        )
    if ticket.first_response_at is not None and ticket.next_update_due_at:
        update_stopped = timedelta(seconds=ticket.sla_update_paused_seconds or 0)
        timers.append(
            RunningTimer(
                Timer.NEXT_UPDATE, ticket.last_update_at, ticket.next_update_due_at, update_stopped
            )
        )
    if ticket.resolve_due_at:
        timers.append(
            RunningTimer(Timer.RESOLUTION, clock_start(ticket), ticket.resolve_due_at, stopped)
        )
    return timers


def taken_steps(ticket: Ticket) -> set[Step]:
    if ticket.id is None:
        return set()
    return taken_steps_of([ticket.id])[ticket.id]


def taken_steps_of(ticket_ids: Iterable[int]) -> dict[int, set[Step]]:
    """The steps taken on each of the tickets, in one query."""
    taken: dict[int, set[Step]] = defaultdict(set)
    with db.session.no_autoflush:
        rows = db.session.execute(
            sa.select(
                SlaEscalation.ticket_id,
                SlaEscalation.timer,
                SlaEscalation.deadline,
                SlaEscalation.level,
            ).where(SlaEscalation.ticket_id.in_(list(ticket_ids)))
        )
        for ticket_id, timer, deadline, level in rows:
            taken[ticket_id].add((timer, deadline, level))
    return taken


def pending_steps(
    ticket: Ticket, calendar: Calendar, taken: set[Step] | None = None
) -> list[tuple[datetime, Step]]:
    """Every step of the running timers not taken yet, with when it falls due, earliest first."""
    if taken is None:
        taken = taken_steps(ticket)
    pending = []
    for running in running_timers(ticket):
        for level, due in running.step_times(calendar):
            step = (running.timer, running.deadline, level)
            if step not in taken:
                pending.append((due, step))
    return sorted(pending, key=lambda item: item[0])


def schedule_escalations(
    ticket: Ticket, calendar: Calendar, taken: set[Step] | None = None
) -> None:
    pending = pending_steps(ticket, calendar, taken)
    ticket.next_escalation_at = pending[0][0] if pending else None


def sweep(*, now: datetime, limit: int = SWEEP_BATCH) -> datetime | None:
    """Take every escalation step that has fallen due; return when the next one falls due.

    Adds and flushes; the clock's job commits. Exactly once: the tickets are claimed under a
    write lock (FOR UPDATE SKIP LOCKED on PostgreSQL, so a second clock takes other tickets;
    SQLite's single write lock on SQLite), and the unique key on (ticket, timer, deadline,
    level) refuses a step already taken, whatever happened before a crash.
    """
    begin_write()
    seen: set[int] = set()
    # Batch after batch, so that one sweep catches up with any number of overdue tickets (each
    # batch moves its tickets' next_escalation_at past ``now``); ``seen`` guards the loop.
    while True:
        due = db.session.scalars(
            sa.select(Ticket)
            .where(ESCALATION_DUE, Ticket.next_escalation_at <= now)
            .order_by(Ticket.next_escalation_at, Ticket.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        if not due or all(ticket.id in seen for ticket in due):
            break  # nothing left, or only tickets whose next step could not move on
        for ticket in due:
            seen.add(ticket.id)
            _terms, calendar = calendar_for(ticket)
            for due_at, step in pending_steps(ticket, calendar):
                if due_at <= now:
                    take_step(ticket, step, now=now)
            schedule_escalations(ticket, calendar)
        db.session.flush()
        if len(due) < limit:
            break
    return db.session.scalar(
        sa.select(sa.func.min(Ticket.next_escalation_at)).where(ESCALATION_DUE)
    )


def take_step(ticket: Ticket, step: Step, *, now: datetime) -> bool:
    """Record one step (unless it was taken already), with its event and its e-mails."""
    timer, deadline, level = step
    try:
        with db.session.begin_nested():
            db.session.add(
                SlaEscalation(
                    ticket_id=ticket.id, timer=timer, deadline=deadline, level=level, created_at=now
                )
            )
    except IntegrityError:
        return False  # another clock took this step
    ticket.events.append(
        TicketEvent(
            kind=STEP_EVENTS[level],
            actor=Actor.SYSTEM,
            is_public=False,
            created_at=now,
            detail={"timer": timer.value, "deadline": deadline.isoformat(), "level": level.value},
        )
    )
    if level is EscalationLevel.BREACH and ticket.breached_at is None:
        ticket.breached_at = now
    case_url = portal_url(f"/staff/tickets/{ticket.reference}")
    for person in recipients(ticket, level):
        queue_email(
            to=person.email,
            template=f"sla_{level.value}",
            locale=staff_locale(person),
            now=now,
            ticket=ticket,
            reference=ticket.reference,
            timer=timer,
            deadline=deadline,
            zone=ticket.team.timezone if ticket.team else None,
            case_url=case_url,
        )
    return True


def recipients(ticket: Ticket, level: EscalationLevel) -> list[StaffUser]:
    """Warnings go to the person working on the ticket (its team's owners when nobody is);
    a breach to the team's owners (the administrators when it has none); then the
    administrators."""
    if level is EscalationLevel.WARNING and ticket.assignee and ticket.assignee.is_active:
        return [ticket.assignee]
    if level is not EscalationLevel.ADMINS:
        owners = [
            member
            for member in (scope.team_members(ticket.team_id) if ticket.team_id else [])
            if Role.OWNER in member.roles
        ]
        if owners:
            return owners
    return list(
        db.session.scalars(
            sa.select(StaffUser)
            .join(StaffRole)
            .where(StaffRole.role == Role.ADMIN, StaffUser.is_active.is_(True))
            .order_by(StaffUser.id)
        )
    )


def staff_locale(person: StaffUser) -> str:
    """The first of the person's working languages the portal offers, else the default."""
    languages = db.session.scalars(
        sa.select(StaffLanguage.locale).where(StaffLanguage.user_id == person.id)
    ).all()
    return next((code for code in languages if code in offered_locales()), "en")


def recompute_open_tickets() -> int:
    """Recompute every open ticket's deadlines, after an upgrade that changes how they are
    computed (saving a policy or a calendar recomputes the tickets it concerns by itself):
    replies already sent count as updates. Returns how many; the caller commits."""
    tickets = db.session.scalars(
        sa.select(Ticket).where(Ticket.status.in_(TIMED_STATUSES)).order_by(Ticket.id)
    ).all()
    for ticket in tickets:
        updates = [
            event.created_at
            for event in ticket.events
            if event.kind in (EventKind.REPLIED, EventKind.INFORMATION_REQUESTED)
        ]
        if updates and ticket.first_response_at is None:
            ticket.first_response_at, ticket.last_update_at = min(updates), max(updates)
        recompute_deadlines(ticket)
    return len(tickets)
