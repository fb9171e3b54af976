"""The SLA dashboard stays cheap as tickets pile up: over two years of history (20,000 reports),
the database plans each of the dashboard's queries, for an administrator and for one team's
owner, as a range of an index bounded by the last 30 days or by the open reports, never a read
of the whole tickets table.

The statements are the ones ``portal.services.sla_report`` runs, caught as they run and
explained with their bound parameters, on SQLite and on PostgreSQL alike (the helpers are
tests/test_queue_plans.py's).
"""

import random
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import Status, Ticket
from portal.services.sla import TIMED_STATUSES
from portal.services.sla_report import report_for
from tests.factories import RESOLUTION, make_busy_portal, ticket_rows
from tests.test_queue_plans import plan, whole_table_reads

TICKETS = 20_000
NOW = datetime(2026, 10, 20, tzinfo=UTC)
# As long a history as a portal that has run for a while: the 30 days the dashboard looks at
# are a small part of it, as they are in production (with two months, as the queue's busy
# portal has, they would be half the table, and reading the table would be the right plan).
HISTORY = timedelta(days=730)
# Reports older than this have all been dealt with.
RECENT = timedelta(days=60)
# Roughly the built-in first-response times, by priority, on calendar days.
FIRST_RESPONSE = {
    4: timedelta(hours=1),
    3: timedelta(hours=12),
    2: timedelta(days=3),
    1: timedelta(days=7),
}
UNANSWERED = (Status.NEW, Status.WITHDRAWN, Status.MERGED)


def with_sla_history(rows: list[dict]) -> list[dict]:
    """``ticket_rows``' reports spread over ``HISTORY`` up to ``NOW``, those older than
    ``RECENT`` closed, each with its targets' deadlines and (but for the unanswered) when they
    were met, one in ten late; the open ones with their next deadline, or their clocks
    stopped while they wait for the reporter."""
    chance = random.Random(730)

    def met(created: datetime, length: timedelta) -> datetime:
        late = chance.random() < 0.1
        return created + length * (chance.uniform(1, 1.5) if late else chance.uniform(0.1, 1))

    step = HISTORY / len(rows)
    for number, row in enumerate(rows):
        created = NOW - HISTORY + number * step
        status = row["status"]
        if created < NOW - RECENT and status in TIMED_STATUSES:
            status = Status.CLOSED
        first_response = FIRST_RESPONSE[row["priority"]]
        resolution = RESOLUTION[row["priority"]]
        answered = status not in UNANSWERED
        decided = status in (Status.DECIDED, Status.CLOSED, Status.APPEALED)
        running = status in TIMED_STATUSES and status is not Status.AWAITING_REPORTER
        next_due = resolution if answered else first_response
        row.update(
            status=status,
            created_at=created,
            updated_at=created,
            first_response_due_at=created + first_response,
            first_response_at=met(created, first_response) if answered else None,
            resolve_due_at=created + resolution,
            decided_at=met(created, resolution) if decided else None,
            next_due_at=created + next_due if running else None,
            at_risk_at=created + next_due * 0.75 if running else None,
            sla_paused_at=created if status is Status.AWAITING_REPORTER else None,
        )
    return rows


@pytest.fixture
def history(app):
    """``TICKETS`` reports over two years across the busy portal's five teams, with fresh
    planner statistics. Yields the teams' ids, busiest first."""
    with app.app_context():
        teams, models, staff = make_busy_portal(0)
        versions = [version for model in models for version in model.versions]
        rows = ticket_rows(TICKETS, teams=teams, models=models, versions=versions, staff=staff)
        db.session.execute(sa.insert(Ticket), with_sla_history(rows))
        db.session.commit()
        with db.engine.connect() as connection:
            connection.exec_driver_sql(
                "ANALYZE" if connection.dialect.name == "sqlite" else "ANALYZE tickets"
            )
            connection.commit()
        yield [team.id for team in teams]
        if db.engine.dialect.name == "sqlite":
            # The statistics of these tickets would steer later tests' plans in this worker.
            db.session.remove()
            with db.engine.begin() as connection:
                connection.exec_driver_sql("DELETE FROM tickets")
                connection.exec_driver_sql("DELETE FROM sqlite_stat1")


@contextmanager
def statements_run() -> Iterator[list]:
    """The statements the session runs inside the block, as objects (with their parameters)."""
    caught = []

    def catch(state):
        caught.append(state.statement)

    session = db.session()
    sa.event.listen(session, "do_orm_execute", catch)
    try:
        yield caught
    finally:
        sa.event.remove(session, "do_orm_execute", catch)


# The indexes that hold only what their condition admits (running deadlines, open reports with
# nothing due, targets met or unmet): reading one from end to end is bounded by that.
PARTIAL = frozenset(
    index.name
    for index in Ticket.__table__.indexes
    if index.dialect_options["sqlite"]["where"] is not None
)
INDEX_READ = {
    "sqlite": re.compile(r"SCAN tickets USING (?:COVERING )?INDEX (\w+)"),
    "postgresql": re.compile(
        r"(?:Index Scan|Index Only Scan|Bitmap Index Scan) .*?(\w*tickets\w*)"
    ),
}


def unbounded_reads(lines: list[str], dialect: str) -> list[str]:
    """The plan's lines that read the whole tickets table: directly, or along an index that
    holds every ticket without a range to bound the read (SQLite's "SCAN ... USING INDEX",
    PostgreSQL's index scan without an "Index Cond")."""
    bad = whole_table_reads(lines, dialect)
    for number, line in enumerate(lines):
        read = INDEX_READ[dialect].search(line)
        if read is None or read.group(1) in PARTIAL:
            continue
        bounded = dialect == "postgresql" and "Index Cond" in "".join(
            lines[number + 1 : number + 2]
        )
        if not bounded:
            bad.append(line)
    return bad


# The indexes the figures are read through: the open reports (running, or with nothing due),
# and for each target those met by when and those not met by their deadline.
DASHBOARD_INDEXES = (
    "ix_tickets_queue_open_nothing_due",
    "ix_tickets_first_response_at",
    "ix_tickets_first_response_unmet",
    "ix_tickets_decided_at",
    "ix_tickets_decision_unmet",
)


def test_the_dashboard_reads_ranges_of_indexes_never_the_tickets_table(app, history):
    scopes = {"an administrator": None, "the owner of the busiest team": {history[0]}}
    problems, plans = [], {}
    with app.app_context():
        dialect = db.engine.dialect.name
        for scope, team_ids in scopes.items():
            with statements_run() as statements:
                report = report_for(team_ids, now=NOW)
            # Figures to read: open reports, and targets of both kinds in the window.
            assert report.total.standing.awaiting_reporter
            assert report.total.standing.running
            assert report.total.first_response.missed
            assert report.total.resolution.met
            # The teams' names, the open reports, the compliance and the two medians.
            assert len(statements) == 5, statements
            plans[scope] = "\n".join(line for statement in statements for line in plan(statement))
            for statement in statements:
                lines = plan(statement)
                if unbounded_reads(lines, dialect):
                    problems.append(f"{scope}:\n    " + "\n    ".join(lines))

    assert not problems, "\n".join(problems)
    for scope, text in plans.items():
        for index in DASHBOARD_INDEXES:
            assert index in text, (scope, index, text)
        assert "ix_tickets_queue_due" in text or "ix_tickets_queue_team_due" in text, text
