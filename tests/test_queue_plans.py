"""The queue stays fast as tickets pile up: with 20,000 tickets, the database plans every view
(the default one, each filter, each order, a later page, and the capped count) as a walk along an
index, never a read of the whole tickets table.

The statements are the ones the view runs, built by ``portal.services.queue`` and explained with
their bound parameters, on SQLite and on PostgreSQL alike.
"""

from dataclasses import replace

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ClauseElement, Executable

from portal.extensions import db
from portal.models import (
    Category,
    Severity,
    Status,
    Ticket,
    TicketKind,
)
from portal.models.tickets import SEVERITY_PRIORITY
from portal.services import queue
from portal.services.queue import Cursor, QueueFilters, QueueSort
from tests.factories import make_busy_portal

TICKETS = 20_000


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
        yield {
            "teams": [team.id for team in teams],
            "model": models[0].id,
            "version": versions[4].id,
            "staff": staff[0].id,
            "middle": (middle.created_at, middle.id, middle.priority),
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
    }


def test_every_view_of_the_queue_walks_an_index(app, busy_portal):
    ids = busy_portal
    created_at, ticket_id, priority = ids["middle"]
    cursors = {
        QueueSort.NEWEST: Cursor(QueueSort.NEWEST, created_at, ticket_id),
        QueueSort.OLDEST: Cursor(QueueSort.OLDEST, created_at, ticket_id),
        QueueSort.SEVERITY: Cursor(QueueSort.SEVERITY, created_at, ticket_id, priority),
    }
    scopes = {
        "administrator": None,
        "agent in one team": {ids["teams"][0]},
        "agent in two teams": {ids["teams"][0], ids["teams"][2]},
    }
    problems, explained = [], 0
    with app.app_context():
        dialect = db.engine.dialect.name
        for scope, visible in scopes.items():
            for name, filters in views(ids).items():
                if scope != "administrator" and name not in ("default", "unassigned", "team"):
                    continue
                statements = {"count": queue.count_query(filters, visible_team_ids=visible)}
                for sort in QueueSort:
                    for after in (None, cursors[sort]):
                        label = f"{sort.value}{', later page' if after else ''}"
                        statements[label] = queue.page_query(
                            filters, sort=sort, visible_team_ids=visible, after=after
                        )
                for label, statement in statements.items():
                    lines = plan(statement)
                    explained += 1
                    bad = whole_table_reads(lines, dialect)
                    # The date orders are index orders for every filter; the severity order is
                    # one only with no filter besides status and severity (each filter's index
                    # ends in the date), so sorting a filter's matches by severity is allowed.
                    if dialect == "sqlite" and not label.startswith("severity"):
                        bad += [line for line in lines if "TEMP B-TREE FOR ORDER BY" in line]
                    if bad:
                        problems.append(f"{scope} / {name} / {label}:\n    " + "\n    ".join(lines))

        # The default view in each order ends at a LIMIT over an ordered index walk: the
        # database stops after one page, however many tickets there are.
        default_plans = [
            "\n".join(plan(queue.page_query(QueueFilters(), sort=sort, visible_team_ids=None)))
            for sort in QueueSort
        ]

    assert explained > 100
    assert not problems, "\n".join(problems)
    for text in default_plans:
        if dialect == "sqlite":
            assert "USING INDEX" in text, text
            assert "TEMP B-TREE" not in text, text
        else:
            assert text.startswith("Limit"), text
            assert "Index Scan" in text, text
