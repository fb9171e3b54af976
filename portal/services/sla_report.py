"""Service-level figures per team, for the SLA dashboard: where the open reports stand now, and
how the last 30 days went.

Now: the open reports (``TIMED_STATUSES``), of which those awaiting the reporter (their clocks
stand still) and those on time, at risk or breached, in the very terms the queue filters by
(``portal.services.sla.in_state``).

The last 30 days, for the first response and for the decision (the resolution timer):
- a target is *met* when it was met in the window, on or before its deadline;
- it is *missed* when its deadline passed in the window without it being met on time: met late,
  or not met at all although its clock was running when the deadline came (see
  ``_running_at_deadline``), whatever became of the report since;
- compliance is met / (met + missed), and there is none ("no data") when both are 0. A deadline
  that came while the report waited for the reporter, or after it was withdrawn or merged,
  counts neither way; spam never counts.
The medians are wall-clock time from submission to the first response and to the decision (so
nights, weekends and waits for the reporter included), for the targets met in the window.

Each figure is one grouped query for all the teams shown, never one per team (four queries
and the teams' names in all); only the durations of the window's answered and decided reports
are read row by row (the medians). Every query is a range of an index, bounded by the window
or by the open reports, whatever the number of tickets (tests/test_dashboard_plans.py).
"""

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import InstrumentedAttribute

from portal.extensions import db
from portal.models import EscalationLevel, SlaEscalation, SlaState, Status, Team, Ticket, Timer
from portal.services.queue import DEADLINE_RUNNING, OPEN_NOTHING_DUE
from portal.services.sla import TIMED_STATUSES, in_state

WINDOW = timedelta(days=30)

# Where the figures of the reports no team owns yet are kept (a ticket's team_id is None).
UNOWNED = None
TeamKey = int | None


@dataclass(frozen=True)
class Standing:
    """The open reports now. Those awaiting the reporter are in none of the three states."""

    open: int = 0
    awaiting_reporter: int = 0
    on_time: int = 0
    at_risk: int = 0
    breached: int = 0

    def __add__(self, other: "Standing") -> "Standing":
        return Standing(
            open=self.open + other.open,
            awaiting_reporter=self.awaiting_reporter + other.awaiting_reporter,
            on_time=self.on_time + other.on_time,
            at_risk=self.at_risk + other.at_risk,
            breached=self.breached + other.breached,
        )

    @property
    def running(self) -> int:
        """The reports whose clocks run: the length of a team's bar in the chart."""
        return self.on_time + self.at_risk + self.breached

    def count(self, state: SlaState) -> int:
        return {
            SlaState.ON_TIME: self.on_time,
            SlaState.AT_RISK: self.at_risk,
            SlaState.BREACHED: self.breached,
        }[state]


@dataclass(frozen=True)
class Compliance:
    """The targets of one timer that fell in the window: met on time, and missed."""

    met: int = 0
    missed: int = 0

    def __add__(self, other: "Compliance") -> "Compliance":
        return Compliance(met=self.met + other.met, missed=self.missed + other.missed)

    @property
    def counted(self) -> int:
        return self.met + self.missed

    @property
    def share(self) -> float | None:
        """met / (met + missed); None when nothing was counted ("no data", never 0 %)."""
        return self.met / self.counted if self.counted else None

    @property
    def shown_share(self) -> float | None:
        """The share rounded to a whole percent, but never up to 100 % while a target was
        missed nor down to 0 % while one was met: "100 %" on the page means none was missed."""
        if self.share is None:
            return None
        percent = round(self.share * 100)
        if self.missed:
            percent = min(percent, 99)
        if self.met:
            percent = max(percent, 1)
        return percent / 100


@dataclass(frozen=True)
class TeamFigures:
    """One row of the dashboard: a team, the reports no team owns (``team_id`` None and
    ``name`` None), or the total of the rows shown."""

    team_id: int | None
    name: str | None
    standing: Standing
    first_response: Compliance
    resolution: Compliance
    median_first_response: timedelta | None
    median_decision: timedelta | None


@dataclass(frozen=True)
class SlaReport:
    now: datetime
    since: datetime
    teams: list[TeamFigures]
    # The reports no team owns yet: administrators only (None for owners).
    unowned: TeamFigures | None
    total: TeamFigures

    @property
    def rows(self) -> list[TeamFigures]:
        """The teams by name, then the reports no team owns."""
        return [*self.teams, *([self.unowned] if self.unowned else [])]


def report_for(team_ids: set[int] | None, *, now: datetime) -> SlaReport:
    """The figures of ``team_ids`` at ``now``; None means every team and the reports no team
    owns (administrators). Reads only."""
    since = now - WINDOW
    if team_ids is not None and not team_ids:
        return assemble([], {}, {}, {}, {}, {}, now=now, with_unowned=False)
    first_responses, resolutions = compliance_by_team(team_ids, since=since, now=now)
    return assemble(
        team_names(team_ids),
        standing_by_team(team_ids, now),
        first_responses,
        resolutions,
        durations_by_team(team_ids, FIRST_RESPONSE.met_at, since=since, now=now),
        durations_by_team(team_ids, DECISION.met_at, since=since, now=now),
        now=now,
        with_unowned=team_ids is None,
    )


# -- the queries: one per figure, grouped by team -------------------------------------------------


def _scoped(query: sa.Select, team_ids: set[int] | None) -> sa.Select:
    """Statistics leave spam out; and only the tickets of ``team_ids`` (None: every ticket)."""
    query = query.where(Ticket.is_spam.is_(False))
    if team_ids is None:
        return query
    return query.where(Ticket.team_id.in_(sorted(team_ids)))


def team_names(team_ids: set[int] | None) -> list[tuple[int, str]]:
    """(id, name) of the teams shown, by name: every one of them, with reports or not."""
    query = sa.select(Team.id, Team.name).order_by(Team.name, Team.id)
    if team_ids is not None:
        query = query.where(Team.id.in_(sorted(team_ids)))
    return [(team_id, name) for team_id, name in db.session.execute(query)]


def standing_by_team(team_ids: set[int] | None, now: datetime) -> dict[TeamKey, Standing]:
    """The open reports of each team now, counted in one query over two index ranges: those
    whose deadline runs (``ix_tickets_queue_due``, or one team's ``ix_tickets_queue_team_due``)
    and the open ones with none running (``ix_tickets_queue_open_nothing_due``). Asked for as
    "the open statuses", SQLite would judge from the average status, a ninth of the table, and
    read every ticket rather than sort the few it counts by team."""
    states = list(SlaState)

    def counted(reports: sa.ColumnElement[bool]) -> sa.Select:
        return _scoped(
            sa.select(
                Ticket.team_id,
                sa.func.count(),
                sa.func.count().filter(Ticket.status == Status.AWAITING_REPORTER),
                *(sa.func.count().filter(in_state(state, now)) for state in states),
            ).where(reports),
            team_ids,
        ).group_by(Ticket.team_id)

    # A running deadline implies an open status; asked for all the same, so that a report
    # that somehow kept one once closed is not counted as open.
    running = counted(sa.and_(DEADLINE_RUNNING, Ticket.status.in_(TIMED_STATUSES)))
    standings = defaultdict(Standing)
    for team_id, open_count, awaiting, *by_state in db.session.execute(
        sa.union_all(running, counted(OPEN_NOTHING_DUE))
    ):
        counts = dict(zip(states, by_state, strict=True))
        standings[team_id] += Standing(
            open=open_count,
            awaiting_reporter=awaiting,
            on_time=counts[SlaState.ON_TIME],
            at_risk=counts[SlaState.AT_RISK],
            breached=counts[SlaState.BREACHED],
        )
    return dict(standings)


def _in_window(moment: sa.ColumnElement, since: datetime, now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(moment > since, moment <= now)


@dataclass(frozen=True)
class Target:
    """What meets a timer, and its deadline. Each condition is the WHERE of a partial index in
    ``Ticket.__table_args__``, repeated exactly so that both databases can use it: ``met``
    holds the targets met (by when), ``unmet`` the others (by deadline)."""

    timer: Timer
    met_at: InstrumentedAttribute
    deadline: InstrumentedAttribute

    @property
    def met(self) -> sa.ColumnElement[bool]:
        return self.met_at.is_not(None)

    @property
    def unmet(self) -> sa.ColumnElement[bool]:
        return self.met_at.is_(None)


FIRST_RESPONSE = Target(
    Timer.FIRST_RESPONSE, Ticket.first_response_at, Ticket.first_response_due_at
)
DECISION = Target(Timer.RESOLUTION, Ticket.decided_at, Ticket.resolve_due_at)


def _running_at_deadline(target: Target) -> sa.ColumnElement[bool]:
    """An unmet target's clock was running when its deadline came: the report is still open
    and was not stopped for the reporter before the deadline, or it was decided only after
    it, or the sweep recorded this very deadline's breach (so its clock ran then, whatever
    became of the report since: withdrawn or merged).

    A withdrawn or merged report's ``closed_at`` says when it left, but not whether its clock
    had run out by then at this very deadline (``breached_at`` is set by the first breach of
    any timer, and reports withdrawn before this release keep the time of their move only
    approximately), hence the breach's own row, found by its unique key (ticket, timer, deadline,
    level). A deadline that passed while the clock process was down, for a report withdrawn
    before it caught up, is not recorded and so counts neither way.
    """
    deadline = target.deadline
    breach_recorded = (
        sa.select(SlaEscalation.id)
        .where(
            SlaEscalation.ticket_id == Ticket.id,
            SlaEscalation.timer == target.timer,
            SlaEscalation.deadline == deadline,
            SlaEscalation.level == EscalationLevel.BREACH,
        )
        .exists()
    )
    return sa.or_(
        sa.and_(
            Ticket.status.in_(TIMED_STATUSES),
            sa.or_(Ticket.sla_paused_at.is_(None), Ticket.sla_paused_at >= deadline),
        ),
        Ticket.decided_at > deadline,
        breach_recorded,
    )


def _met_targets(target: Target, team_ids: set[int] | None, *, since: datetime, now: datetime):
    """Per team, the targets met in the window: on time, or late for a deadline in the window
    (missed). A range of the index of met targets, by when they were met (one met after
    ``now``, while the figures are being read, is left to the next view)."""
    met_at, deadline = target.met_at, target.deadline
    return _scoped(
        sa.select(
            Ticket.team_id,
            sa.literal(target.timer.value).label("timer"),
            sa.func.count().filter(met_at <= deadline).label("met"),
            sa.func.count()
            .filter(sa.and_(_in_window(deadline, since, now), met_at > deadline))
            .label("missed"),
        ).where(target.met, _in_window(met_at, since, now)),
        team_ids,
    ).group_by(Ticket.team_id)


def _unmet_targets(target: Target, team_ids: set[int] | None, *, since: datetime, now: datetime):
    """Per team, the targets not met whose deadline passed in the window while their clock
    was running: missed. A range of the index of unmet targets, by deadline."""
    return _scoped(
        sa.select(
            Ticket.team_id,
            sa.literal(target.timer.value).label("timer"),
            sa.literal(0).label("met"),
            sa.func.count().label("missed"),
        ).where(
            target.unmet, _in_window(target.deadline, since, now), _running_at_deadline(target)
        ),
        team_ids,
    ).group_by(Ticket.team_id)


def compliance_by_team(
    team_ids: set[int] | None, *, since: datetime, now: datetime
) -> tuple[dict[TeamKey, Compliance], dict[TeamKey, Compliance]]:
    """(first response, resolution) compliance of each team over the window, in one query.

    Four index ranges, put together with UNION ALL (an OR of the four would make both
    databases read the table): for each target, those met since the window began and those
    unmet whose deadline fell in it. A report is in one range per target, so none is counted
    twice.
    """
    parts = [
        part(target, team_ids, since=since, now=now)
        for target in (FIRST_RESPONSE, DECISION)
        for part in (_met_targets, _unmet_targets)
    ]
    figures = {target.timer: defaultdict(Compliance) for target in (FIRST_RESPONSE, DECISION)}
    for team_id, timer, met, missed in db.session.execute(sa.union_all(*parts)):
        figures[Timer(timer)][team_id] += Compliance(met=met, missed=missed)
    return dict(figures[FIRST_RESPONSE.timer]), dict(figures[DECISION.timer])


def durations_by_team(
    team_ids: set[int] | None,
    reached_at: InstrumentedAttribute,
    *,
    since: datetime,
    now: datetime,
) -> dict[TeamKey, list[timedelta]]:
    """Wall-clock time from submission to ``reached_at`` of each ticket that reached it in the
    window, by team.

    Read row by row because SQLite has no percentile function: the rows are bounded by the
    reports of the teams shown answered (or decided) in 30 days, two timestamps each.
    """
    # A range of the index of met targets (its condition repeated exactly).
    query = _scoped(
        sa.select(Ticket.team_id, Ticket.created_at, reached_at).where(
            reached_at.is_not(None), _in_window(reached_at, since, now)
        ),
        team_ids,
    )
    durations = defaultdict(list)
    for team_id, created_at, reached in db.session.execute(query):
        durations[team_id].append(reached - created_at)
    return dict(durations)


# -- putting the figures together (no database) ---------------------------------------------------


def median(durations: Iterable[timedelta]) -> timedelta | None:
    """The median duration; None when there is none."""
    durations = list(durations)
    return statistics.median(durations) if durations else None


def assemble(
    teams: list[tuple[int, str]],
    standings: dict[TeamKey, Standing],
    first_responses: dict[TeamKey, Compliance],
    resolutions: dict[TeamKey, Compliance],
    response_times: dict[TeamKey, list[timedelta]],
    decision_times: dict[TeamKey, list[timedelta]],
    *,
    now: datetime,
    with_unowned: bool,
) -> SlaReport:
    """The dashboard's rows from the grouped figures: a row for every team (with reports or
    not), the unowned reports' row when asked for, and their total (whose medians are those of
    all the rows' durations together, not a median of medians)."""

    def row(key: TeamKey, name: str | None) -> TeamFigures:
        return TeamFigures(
            team_id=key,
            name=name,
            standing=standings.get(key, Standing()),
            first_response=first_responses.get(key, Compliance()),
            resolution=resolutions.get(key, Compliance()),
            median_first_response=median(response_times.get(key, [])),
            median_decision=median(decision_times.get(key, [])),
        )

    rows = [row(team_id, name) for team_id, name in teams]
    unowned = row(UNOWNED, None) if with_unowned else None
    shown = [team_id for team_id, _name in teams] + ([UNOWNED] if with_unowned else [])
    total = TeamFigures(
        team_id=None,
        name=None,
        standing=sum((standings.get(key, Standing()) for key in shown), Standing()),
        first_response=sum((first_responses.get(key, Compliance()) for key in shown), Compliance()),
        resolution=sum((resolutions.get(key, Compliance()) for key in shown), Compliance()),
        median_first_response=median(d for key in shown for d in response_times.get(key, [])),
        median_decision=median(d for key in shown for d in decision_times.get(key, [])),
    )
    return SlaReport(now=now, since=now - WINDOW, teams=rows, unowned=unowned, total=total)
