"""Administration of service levels: the SLA policies, and each team's working calendar.

As in portal/services/staff_admin.py, each function changes only what it is given, flushes, and
returns :class:`Change` records (ids and values only) for the caller to append to the audit log
before it commits once; who may do what is decided by the views. A policy or a calendar decides
the deadlines of open tickets, which are columns on the tickets: every change here recomputes
the deadlines of the open tickets it can apply to, in the same transaction, so that the queue
never sorts by terms that no longer hold. Each change's audit entry says how many moved
(``deadlines_moved``).
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import time

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from portal.extensions import db
from portal.models import Category, Severity, SlaPolicy, Status, Team, Ticket
from portal.models.sla import scope_key
from portal.services import sla
from portal.services.calendar import Calendar, validate_calendar
from portal.services.errors import DomainError
from portal.services.sla import DEFAULT_WORKING_HOURS, TIMED_STATUSES, Terms
from portal.services.staff_admin import AdminRefused, Change
from portal.services.writing import begin_write

# -- policies -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyScope:
    """Which tickets a policy is for: appeals, or the tickets of one severity; either narrowed
    to one category, one team, or both. No two policies share a scope."""

    for_appeals: bool
    severity: Severity | None
    category: Category | None = None
    team_id: int | None = None

    @classmethod
    def of(cls, policy: SlaPolicy) -> "PolicyScope":
        return cls(policy.for_appeals, policy.severity, policy.category, policy.team_id)

    def open_tickets(self) -> sa.ColumnElement[bool]:
        """The open tickets whose deadlines a policy of this scope can decide."""
        if self.for_appeals:
            conditions = [Ticket.status == Status.APPEALED]
        else:
            conditions = [
                Ticket.status.in_(TIMED_STATUSES - {Status.APPEALED}),
                # The effective severity: staff's when they set one, else the reporter's.
                sa.func.coalesce(Ticket.severity, Ticket.reporter_severity) == self.severity,
            ]
        if self.category is not None:
            conditions.append(Ticket.category == self.category)
        if self.team_id is not None:
            conditions.append(Ticket.team_id == self.team_id)
        return sa.and_(*conditions)


# The scopes of the organisation-wide terms, in the order the policies page lists them: the
# most serious first (as the home page does), then appeals.
ORGANISATION_SCOPES = (
    *(PolicyScope(for_appeals=False, severity=severity) for severity in reversed(Severity)),
    PolicyScope(for_appeals=True, severity=None),
)


def default_terms(scope: PolicyScope) -> Terms:
    """The built-in terms that apply to ``scope``'s tickets when no policy row does."""
    return sla.DEFAULT_APPEAL_TERMS if scope.for_appeals else sla.DEFAULT_TERMS[scope.severity]


@dataclass(frozen=True)
class PolicyRow:
    """One line of the policies page: a policy, or (``policy`` None) a built-in default.
    ``in_force`` is False for a policy that an older one with the same scope hides."""

    scope: PolicyScope
    terms: Terms
    policy: SlaPolicy | None = None
    in_force: bool = True


@dataclass(frozen=True)
class PolicyListing:
    organisation: list[PolicyRow]
    overrides: list[PolicyRow]


def policies_in_force() -> PolicyListing:
    """The organisation-wide terms of each severity and of appeals (a policy, else the built-in
    default), then every other policy. Of policies sharing a scope (only possible in data from
    before the form refused it), the oldest is the one ``sla.terms_for`` uses."""
    policies = db.session.scalars(
        sa.select(SlaPolicy).options(joinedload(SlaPolicy.team)).order_by(SlaPolicy.id)
    ).all()
    first_of_scope: dict[PolicyScope, SlaPolicy] = {}
    for policy in policies:
        first_of_scope.setdefault(PolicyScope.of(policy), policy)
    organisation = []
    for scope in ORGANISATION_SCOPES:
        policy = first_of_scope.get(scope)
        terms = Terms.of(policy) if policy else default_terms(scope)
        organisation.append(PolicyRow(scope, terms, policy))
    shown = {row.policy.id for row in organisation if row.policy}
    overrides = [
        PolicyRow(
            PolicyScope.of(policy),
            Terms.of(policy),
            policy,
            in_force=first_of_scope[PolicyScope.of(policy)] is policy,
        )
        for policy in policies
        if policy.id not in shown
    ]
    overrides.sort(key=_listing_order)
    return PolicyListing(organisation, overrides)


def _listing_order(row: PolicyRow) -> tuple:
    severity_rank = -list(Severity).index(row.scope.severity) if row.scope.severity else 0
    return (
        row.scope.for_appeals,
        severity_rank,
        row.scope.category is not None,
        row.scope.category or "",
        row.policy.team.name if row.policy.team else "",
        row.policy.id,
    )


def policy_values(policy: SlaPolicy) -> dict:
    """A policy's scope and terms as the audit log records them."""

    def timer(amount: int | None, unit) -> list | None:
        return None if amount is None or unit is None else [amount, unit.value]

    return {
        "for_appeals": policy.for_appeals,
        "severity": policy.severity.value if policy.severity else None,
        "category": policy.category.value if policy.category else None,
        "team_id": policy.team_id,
        "business_hours": policy.business_hours,
        "first_response": timer(policy.first_response_amount, policy.first_response_unit),
        "next_update": timer(policy.next_update_amount, policy.next_update_unit),
        "resolution": timer(policy.resolution_amount, policy.resolution_unit),
    }


def _check_scope_free(scope: PolicyScope, *, except_id: int | None = None) -> None:
    key = scope_key(scope.for_appeals, scope.severity, scope.category, scope.team_id)
    query = sa.select(SlaPolicy.id).where(SlaPolicy.scope_key == key)
    if except_id is not None:
        query = query.where(SlaPolicy.id != except_id)
    if db.session.scalar(query.limit(1)) is not None:
        raise AdminRefused(AdminRefused.SCOPE_TAKEN)


def _flush_policy() -> None:
    """Write the policy; two administrators saving the same scope at once (which the check
    above cannot see on PostgreSQL) meet the unique scope key, and the second is refused."""
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise AdminRefused(AdminRefused.SCOPE_TAKEN) from None


def _set_policy(policy: SlaPolicy, scope: PolicyScope, terms: Terms) -> None:
    policy.for_appeals, policy.severity = scope.for_appeals, scope.severity
    policy.category, policy.team_id = scope.category, scope.team_id
    policy.business_hours = terms.business_hours
    policy.first_response_amount = terms.first_response.amount
    policy.first_response_unit = terms.first_response.unit
    policy.next_update_amount = terms.next_update.amount if terms.next_update else None
    policy.next_update_unit = terms.next_update.unit if terms.next_update else None
    policy.resolution_amount = terms.resolution.amount
    policy.resolution_unit = terms.resolution.unit


def create_policy(scope: PolicyScope, terms: Terms) -> tuple[SlaPolicy, Change]:
    """A new policy, and new deadlines for the open tickets it can apply to. Raises
    ``AdminRefused(SCOPE_TAKEN)`` when a policy has that scope already (nothing changes)."""
    begin_write()  # the check and the insert in one transaction, as the only writer on SQLite
    _check_scope_free(scope)
    policy = SlaPolicy()
    _set_policy(policy, scope, terms)
    db.session.add(policy)
    _flush_policy()
    moved = recompute_deadlines_where(scope.open_tickets())
    return policy, Change("sla_policy.created", {**policy_values(policy), "deadlines_moved": moved})


def update_policy(policy: SlaPolicy, scope: PolicyScope, terms: Terms) -> list[Change]:
    """New scope and terms for a policy; the open tickets of its old scope and of its new one
    get new deadlines. Raises ``AdminRefused(SCOPE_TAKEN)`` when another policy has the new
    scope (nothing changes). Nothing to record when nothing changed."""
    begin_write()
    _check_scope_free(scope, except_id=policy.id)
    before_scope, before = PolicyScope.of(policy), policy_values(policy)
    _set_policy(policy, scope, terms)
    after = policy_values(policy)
    changed = [name for name in after if after[name] != before[name]]
    if not changed:
        return []
    _flush_policy()
    moved = recompute_deadlines_where(sa.or_(before_scope.open_tickets(), scope.open_tickets()))
    return [Change("sla_policy.updated", {**after, "changed": changed, "deadlines_moved": moved})]


def delete_policy(policy: SlaPolicy) -> Change:
    """Remove a policy: its tickets fall back on the next most specific policy, or the built-in
    default, and get new deadlines."""
    begin_write()
    scope, values = PolicyScope.of(policy), policy_values(policy)
    db.session.delete(policy)
    db.session.flush()
    moved = recompute_deadlines_where(scope.open_tickets())
    return Change("sla_policy.deleted", {**values, "deadlines_moved": moved})


# Tickets are recomputed this many at a time: the session then holds one batch, not every open
# ticket, and the batch's teams come in one query.
RECOMPUTE_BATCH = 500


def recompute_deadlines_where(
    condition: sa.ColumnElement[bool], *, batch_size: int = RECOMPUTE_BATCH
) -> int:
    """Recompute the deadlines of the open tickets that match ``condition``, their rows locked
    (a colleague's concurrent change to one of them then meets the usual conflict rather than
    losing ours); return how many got different deadlines. Flushes.

    Runs under the write lock, which on SQLite holds up every new report: the policies are
    read once, the tickets, their teams and their escalations a batch at a time, and each
    ticket that moved costs an UPDATE.
    """
    terms_of = sla.terms_finder()
    moved, last_id = 0, 0
    while True:
        batch = db.session.scalars(
            sa.select(Ticket)
            .where(Ticket.status.in_(TIMED_STATUSES), condition, Ticket.id > last_id)
            .order_by(Ticket.id)
            .limit(batch_size)
            .options(selectinload(Ticket.team))
            .with_for_update()
        ).all()
        taken = sla.taken_steps_of(ticket.id for ticket in batch)
        for ticket in batch:
            before = _deadlines(ticket)
            sla.recompute_deadlines(ticket, terms=terms_of(ticket), taken=taken[ticket.id])
            moved += _deadlines(ticket) != before
        # Written batch by batch, so that the session can let the batch's tickets go.
        db.session.flush()
        if len(batch) < batch_size:
            return moved
        last_id = batch[-1].id


def _deadlines(ticket: Ticket) -> tuple:
    return (ticket.first_response_due_at, ticket.next_update_due_at, ticket.resolve_due_at)


# -- team calendars -----------------------------------------------------------------------------


class UnusableCalendar(DomainError):
    """``validate_calendar`` found fault with ``calendar``; ``problems`` says what, in English
    (the calendar module's words for operators), but not which of its parts is at fault."""

    def __init__(self, problems: list[str], calendar: Calendar):
        super().__init__("; ".join(problems))
        self.problems = problems
        self.calendar = calendar


def working_week(team: Team) -> dict[int, list[tuple[time, time]]]:
    """The team's working ranges on each weekday (0 = Monday) that has any, in order; the
    default week (Monday to Friday, 09:00 to 17:00) for a team that has not set its own."""
    hours = list(DEFAULT_WORKING_HOURS)
    if team.working_hours:
        hours = [
            (int(day), time.fromisoformat(start), time.fromisoformat(end))
            for day, start, end in team.working_hours
        ]
    week: dict[int, list[tuple[time, time]]] = defaultdict(list)
    for weekday, start, end in sorted(hours):
        week[weekday].append((start, end))
    return dict(week)


def calendar_values(team: Team) -> dict:
    """A team's calendar as the audit log records it: the working week in force, whether
    stored or the default one."""
    return {
        "timezone": team.timezone,
        "working_hours": [
            [day, _hh_mm(start), _hh_mm(end)]
            for day, ranges in sorted(working_week(team).items())
            for start, end in ranges
        ],
        "holidays_country": team.holidays_country,
        "holidays_subdivision": team.holidays_subdivision,
    }


def set_team_calendar(
    team: Team,
    *,
    timezone: str,
    working_hours: Iterable[tuple[int, time, time]],
    holidays_country: str | None,
    holidays_subdivision: str | None,
) -> list[Change]:
    """Set the team's time zone, working week and public holidays, and recompute the deadlines
    of its open tickets. Raises ``UnusableCalendar`` (nothing changes) for a calendar the SLA
    timers could not run on, a week without working time included. Nothing to record when
    nothing changed."""
    hours = sorted(working_hours)
    calendar = Calendar(
        timezone=timezone,
        working_hours=tuple(hours),
        holidays_country=holidays_country,
        holidays_subdivision=holidays_subdivision,
    )
    # Without working hours a Calendar runs round the clock, which validate_calendar accepts;
    # a team's working week cannot be empty.
    problems = validate_calendar(calendar) or ([] if hours else ["no working time in the week"])
    if problems:
        raise UnusableCalendar(problems, calendar)
    before = calendar_values(team)
    after = {
        "timezone": timezone,
        "working_hours": [[day, _hh_mm(start), _hh_mm(end)] for day, start, end in hours],
        "holidays_country": holidays_country,
        "holidays_subdivision": holidays_subdivision,
    }
    changed = [name for name in after if after[name] != before[name]]
    if not changed:
        return []  # a team on the default week keeps following it
    begin_write()
    for name, value in after.items():
        setattr(team, name, value)
    db.session.flush()
    moved = recompute_deadlines_where(Ticket.team_id == team.id)
    return [
        Change("team.calendar_changed", {**after, "changed": changed, "deadlines_moved": moved})
    ]


def _hh_mm(moment: time) -> str:
    return moment.strftime("%H:%M")
