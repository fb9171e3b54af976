"""Service-level figures per team, for the SLA dashboard: where the open reports stand now, and
how the last 30 days went.

Now: the open reports (``TIMED_STATUSES``), of which those awaiting the reporter (their clocks
stand still) and those on time, at risk or breached, in the very terms the queue filters by
(``portal.services.sla.in_state``).

The last 30 days, for the first response and for the decision (the resolution timer):
- a target is *met* when it was met in the window, on or before its deadline;
- it is *missed* when its deadline passed in the window without it being met on time: met late,
  or not met at all while the ticket was still running (open and not stopped for the reporter
  before the deadline, or decided only after it);
- compliance is met / (met + missed), and there is none ("no data") when both are 0. A report
  withdrawn or merged before its target was met counts neither way; spam never counts.
The medians are wall-clock time from submission to the first response and to the decision (so
nights, weekends and waits for the reporter included), for the targets met in the window.

Each figure is one grouped query for all the teams shown, never one per team; only the
durations of the window's answered and decided reports are read row by row (the medians).
"""

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import InstrumentedAttribute

from portal.extensions import db
from portal.models import SlaState, Status, Team, Ticket
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
        durations_by_team(team_ids, Ticket.first_response_at, since=since, now=now),
        durations_by_team(team_ids, Ticket.decided_at, since=since, now=now),
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
    """The open reports of each team now, counted in one pass."""
    states = list(SlaState)
    query = _scoped(
        sa.select(
            Ticket.team_id,
            sa.func.count(),
            sa.func.count().filter(Ticket.status == Status.AWAITING_REPORTER),
            *(sa.func.count().filter(in_state(state, now)) for state in states),
        )
        .where(Ticket.status.in_(TIMED_STATUSES))
        .group_by(Ticket.team_id),
        team_ids,
    )
    standings = {}
    for team_id, open_count, awaiting, *by_state in db.session.execute(query):
        counts = dict(zip(states, by_state, strict=True))
        standings[team_id] = Standing(
            open=open_count,
            awaiting_reporter=awaiting,
            on_time=counts[SlaState.ON_TIME],
            at_risk=counts[SlaState.AT_RISK],
            breached=counts[SlaState.BREACHED],
        )
    return standings


def _in_window(moment: sa.ColumnElement, since: datetime, now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(moment > since, moment <= now)


def _still_running_at(deadline: sa.ColumnElement) -> sa.ColumnElement[bool]:
    """An unmet target's clock was running when its deadline came: the ticket is still open and
    was not stopped for the reporter before the deadline, or it was decided only after it."""
    return sa.or_(
        sa.and_(
            Ticket.status.in_(TIMED_STATUSES),
            sa.or_(Ticket.sla_paused_at.is_(None), Ticket.sla_paused_at >= deadline),
        ),
        Ticket.decided_at > deadline,
    )


def met_in_window(
    met_at: sa.ColumnElement, deadline: sa.ColumnElement, *, since: datetime, now: datetime
) -> sa.ColumnElement[bool]:
    return sa.and_(_in_window(met_at, since, now), met_at <= deadline)


def missed_in_window(
    met_at: sa.ColumnElement, deadline: sa.ColumnElement, *, since: datetime, now: datetime
) -> sa.ColumnElement[bool]:
    return sa.and_(
        _in_window(deadline, since, now),
        sa.or_(met_at > deadline, sa.and_(met_at.is_(None), _still_running_at(deadline))),
    )


def compliance_by_team(
    team_ids: set[int] | None, *, since: datetime, now: datetime
) -> tuple[dict[TeamKey, Compliance], dict[TeamKey, Compliance]]:
    """(first response, resolution) compliance of each team over the window, in one query.

    Only tickets with a met time or a deadline in the window are read: at scale, an index on
    each of first_response_at, first_response_due_at, decided_at and resolve_due_at lets the
    database combine four range scans instead of reading the table.
    """
    targets = (
        (Ticket.first_response_at, Ticket.first_response_due_at),
        (Ticket.decided_at, Ticket.resolve_due_at),
    )
    counts = []
    for met_at, deadline in targets:
        counts.append(sa.func.count().filter(met_in_window(met_at, deadline, since=since, now=now)))
        counts.append(
            sa.func.count().filter(missed_in_window(met_at, deadline, since=since, now=now))
        )
    touched = sa.or_(
        *(
            _in_window(column, since, now)
            for target in targets
            for column in target  # either when it was met or when it fell due
        )
    )
    query = _scoped(sa.select(Ticket.team_id, *counts).where(touched), team_ids).group_by(
        Ticket.team_id
    )
    first_responses, resolutions = {}, {}
    for team_id, response_met, response_missed, decision_met, decision_missed in db.session.execute(
        query
    ):
        first_responses[team_id] = Compliance(met=response_met, missed=response_missed)
        resolutions[team_id] = Compliance(met=decision_met, missed=decision_missed)
    return first_responses, resolutions


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
    query = _scoped(
        sa.select(Ticket.team_id, Ticket.created_at, reached_at).where(
            _in_window(reached_at, since, now)
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
