"""The queue stays fast as tickets pile up: with 20,000 tickets, the database plans every view
(the default one, each filter, each service level, each order, a later page, and the capped
count) as a walk along an index, never a read of the whole tickets table.

The statements are the ones the view runs, built by ``portal.services.queue`` and explained with
their bound parameters, on SQLite and on PostgreSQL alike.
"""

import re
from dataclasses import replace
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ClauseElement, Executable

from portal.extensions import db
from portal.models import (
    Category,
    Severity,
    SlaState,
    Status,
    Ticket,
    TicketKind,
)
from portal.models.tickets import SEVERITY_PRIORITY
from portal.services import queue
from portal.services.queue import DEFAULT_STATUSES, Cursor, QueueFilters, QueueSort
from tests.factories import make_busy_portal

TICKETS = 20_000
# The moment the service levels are judged at: the busy portal's tickets arrive from September
# to November 2026, so that some open ones are breached, some at risk and most on time.
NOW = datetime(2026, 10, 20, tzinfo=UTC)


class Explain(Executable, ClauseElement):
    """``EXPLAIN`` of a statement, executed with the statement's own bound parameters."""

    inherit_cache = False

    def __init__(self, statement):
        self.statement = statement


@compiles(Explain)
def _compile_explain(element, compiler, **kw):
    prefix = "EXPLAIN QUERY PLAN " if compiler.dialect.name == "sqlite" else "EXPLAIN "
    return prefix + compiler.process(element.statement, **kw)


def plan(statement) -> list[str]:
    rows = db.session.execute(Explain(statement)).all()
    # SQLite: (id, parent, notused, detail); PostgreSQL: one line of text per row.
    return [row[-1] for row in rows]


def whole_table_reads(lines: list[str], dialect: str) -> list[str]:
    """The plan's lines that read the tickets table from end to end."""
    if dialect == "sqlite":
        return [
            line
            for line in lines
            if line.startswith("SCAN tickets")
            and "USING INDEX" not in line
            and "USING COVERING INDEX" not in line
        ]
    return [line for line in lines if "Seq Scan on tickets" in line]


@pytest.fixture
def busy_portal(app):
    """20,000 tickets across five teams, four models (three versions each) and twelve staff,
    with fresh planner statistics. Yields the ids the views filter on."""
    with app.app_context():
        teams, models, staff = make_busy_portal(TICKETS)
        versions = [version for model in models for version in model.versions]
        db.session.commit()
        with db.engine.connect() as connection:
            connection.exec_driver_sql(
                "ANALYZE" if connection.dialect.name == "sqlite" else "ANALYZE tickets"
            )
            connection.commit()
        middle = db.session.scalar(
            sa.select(Ticket).where(Ticket.reference == f"RP-{TICKETS // 2:08d}")
        )
        due = db.session.scalar(
            sa.select(Ticket)
            .where(Ticket.next_due_at > NOW)
            .order_by(Ticket.next_due_at, Ticket.id)
            .limit(1)
            .offset(500)
        )
        paused = db.session.scalar(
            sa.select(Ticket).where(Ticket.status == Status.AWAITING_REPORTER).limit(1).offset(200)
        )
        yield {
            "teams": [team.id for team in teams],
            "model": models[0].id,
            "version": versions[4].id,
            "staff": staff[0].id,
            "middle": (middle.created_at, middle.id, middle.priority),
            "due": (due.next_due_at, due.id),
            "paused": (paused.status, paused.created_at, paused.id),
        }
        if db.engine.dialect.name == "sqlite":
            _forget_on_sqlite()


def _forget_on_sqlite() -> None:
    """Delete the tickets, and the statistics that describe them (which would otherwise steer
    the plans of later tests in this worker's database)."""
    db.session.remove()
    with db.engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM tickets")
        connection.exec_driver_sql("DELETE FROM sqlite_stat1")


def views(ids) -> dict[str, QueueFilters]:
    """The default view and each filter, as the view's form sends them (open statuses unless
    the status is chosen)."""
    default = QueueFilters()
    return {
        "default": default,
        "any status": replace(default, statuses=None),
        "status appealed": replace(default, statuses=frozenset({Status.APPEALED})),
        "status closed": replace(default, statuses=frozenset({Status.CLOSED})),
        "team": replace(default, team_id=ids["teams"][0]),
        "small team": replace(default, team_id=ids["teams"][4]),
        "assignee": replace(default, assignee_id=ids["staff"]),
        "unassigned": replace(default, unassigned=True),
        "kind": replace(default, kind=TicketKind.OUTPUT_DISPUTE),
        "category": replace(default, category=Category.PRIVACY),
        "model": replace(default, model_id=ids["model"]),
        "version": replace(default, model_version_id=ids["version"]),
        "language": replace(default, locale="de"),
        "severity": replace(default, priority=SEVERITY_PRIORITY[Severity.CRITICAL]),
        "reference": replace(default, search="RP-7K3M-Q9P2"),
        **{state.value: replace(default, sla_state=state) for state in SlaState},
    }


# The views an agent's team scope is checked with, besides the administrator's every view.
TEAM_SCOPED_VIEWS = ("default", "unassigned", "team", *(state.value for state in SlaState))


def test_every_view_of_the_queue_walks_an_index(app, busy_portal):
    ids = busy_portal
    created_at, ticket_id, priority = ids["middle"]
    due_at, due_id = ids["due"]
    status, paused_at, paused_id = ids["paused"]
    cursors = {
        QueueSort.DUE: {
            "later page": Cursor(QueueSort.DUE, None, due_id, next_due_at=due_at),
            "later page, nothing due": Cursor(QueueSort.DUE, paused_at, paused_id, status=status),
        },
        QueueSort.NEWEST: {"later page": Cursor(QueueSort.NEWEST, created_at, ticket_id)},
        QueueSort.OLDEST: {"later page": Cursor(QueueSort.OLDEST, created_at, ticket_id)},
        QueueSort.SEVERITY: {
            "later page": Cursor(QueueSort.SEVERITY, created_at, ticket_id, priority)
        },
    }
    scopes = {
        "administrator": None,
        "agent in one team": {ids["teams"][0]},
        "agent in two teams": {ids["teams"][0], ids["teams"][2]},
    }
    states = {state.value for state in SlaState}
    problems, explained = [], 0
    with app.app_context():
        dialect = db.engine.dialect.name
        for scope, visible in scopes.items():
            for name, filters in views(ids).items():
                if scope != "administrator" and name not in TEAM_SCOPED_VIEWS:
                    continue
                statements = {
                    "count": queue.count_query(filters, visible_team_ids=visible, now=NOW)
                }
                for sort in QueueSort:
                    for page, after in {"first page": None, **cursors[sort]}.items():
                        walks = queue.page_queries(
                            filters, sort=sort, visible_team_ids=visible, now=NOW, after=after
                        )
                        for number, statement in enumerate(walks, start=1):
                            statements[f"{sort.value}, {page}, walk {number}"] = statement
                for label, statement in statements.items():
                    lines = plan(statement)
                    explained += 1
                    bad = whole_table_reads(lines, dialect)
                    # The date orders are index orders for every filter; the severity order is
                    # one only with no filter besides status and severity (each filter's index
                    # ends in the date), so sorting a filter's matches by severity is allowed,
                    # and so is sorting a service level's matches (open reports only) by date.
                    sorted_allowed = label.startswith("severity") or (
                        name in states and not label.startswith("due")
                    )
                    if dialect == "sqlite" and not sorted_allowed:
                        bad += [line for line in lines if "TEMP B-TREE FOR ORDER BY" in line]
                    if bad:
                        problems.append(f"{scope} / {name} / {label}:\n    " + "\n    ".join(lines))

        # The default view in each order ends at a LIMIT over an ordered index walk (each walk,
        # for next due first): the database stops after one page, however many tickets.
        default_plans = [
            "\n".join(plan(statement))
            for sort in QueueSort
            for statement in queue.page_queries(
                QueueFilters(), sort=sort, visible_team_ids=None, now=NOW
            )
        ]
        # Next due first, alone and with each service level, for everyone and for one team
        # (and alone for a small team, whose page the running deadlines leave unfilled): the
        # running deadlines come from their own indexes.
        due_scopes = {
            "everyone": None,
            "one team": {ids["teams"][0]},
            "one small team": {ids["teams"][4]},
        }
        due_plans = {
            (name, scope): [
                "\n".join(plan(statement))
                for statement in queue.page_queries(
                    filters, sort=QueueSort.DUE, visible_team_ids=visible, now=NOW
                )
            ]
            for name, filters in views(ids).items()
            if name == "default" or name in states
            for scope, visible in due_scopes.items()
            if name == "default" or scope != "one small team"
        }

    assert explained > 300
    assert not problems, "\n".join(problems)
    for text in default_plans:
        assert stops_after_a_page(text, dialect), text
    for (name, scope), texts in due_plans.items():
        running, *nothing_due = texts
        assert "ix_tickets_queue_due" in running or "ix_tickets_queue_team_due" in running
        if name == SlaState.AT_RISK and dialect == "postgresql":
            # PostgreSQL takes a deadline and its warning time for independent, expects next to
            # no reports at risk, and may collect them from the index to sort them: at most
            # every report at risk, never the table.
            assert "Seq Scan" not in running, running
        else:
            assert stops_after_a_page(running, dialect), (name, scope, running)
        if name == "default":
            # Then each open status's reports with nothing due, one status at a time, from the
            # index that holds only those: a status whose every report has a deadline (all of
            # them but those waiting for the reporter) is an empty range, not a read of all its
            # reports, when a page is left unfilled (a small team's queue, the last page).
            assert len(nothing_due) == len(DEFAULT_STATUSES)
            for text in nothing_due:
                assert "ix_tickets_queue_open_nothing_due" in text, (scope, text)
                if scope == "one small team" and dialect == "postgresql":
                    # PostgreSQL may rather intersect this index's range with the team's
                    # reports and sort the few found: bounded by both, stopped by neither.
                    continue
                assert stops_after_a_page(text, dialect), (scope, text)
        else:
            assert nothing_due == [], "a service level exists only while a deadline runs"


def stops_after_a_page(text: str, dialect: str) -> bool:
    """The plan walks an index in the order asked for, so its LIMIT stops it after a page (an
    incremental sort, of the rows that share one date, stops there too)."""
    if dialect == "sqlite":
        return "USING" in text and "INDEX" in text and "TEMP B-TREE" not in text
    full_sorts = re.findall(r"(?:^|->)\s*Sort\s+\(", text, re.MULTILINE)
    return text.startswith("Limit") and "Index" in text and not full_sorts
