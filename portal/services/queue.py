"""The staff triage queue: which tickets a view shows, in which order, a page at a time.

Every view is one filter per column (``QUEUE_FILTER_COLUMNS``), optionally a service level, and
one of four orders, each an index order: ``ix_tickets_queue_<column>`` is (column, created_at,
id), so an equality filter plus a date order is an index range scan that stops after a page,
the severity order walks ``ix_tickets_queue_priority``, and "next due first" (the default)
walks ``ix_tickets_queue_due`` (or one team's ``ix_tickets_queue_team_due``), then the reports
with nothing due one status at a time (``ix_tickets_queue_open_nothing_due`` for the open
statuses; see ``_due_walks``). Pages follow each other by keyset (the last row's sort key, in
the opaque ``after`` cursor), never by OFFSET, so page 400 costs what page 1 does. Counts stop
at ``COUNT_CAP``: "1,000+" is all a triage view needs to know.

The functions take explicit arguments (the viewer's visible teams, already resolved, and the
time the service levels are judged at), so that tests/test_queue_plans.py can EXPLAIN exactly
the statements the view runs.
"""

import base64
import binascii
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from portal.access import CASEWORK
from portal.extensions import db
from portal.models import AIModel, Category, SlaState, StaffUser, Status, Team, Ticket, TicketKind
from portal.models.enums import LabelledEnum
from portal.models.routing import TeamMembership
from portal.models.tickets import SEVERITY_PRIORITY
from portal.models.types import MAX_DATABASE_ID
from portal.services import casework, sla
from portal.services.errors import CaseworkRefused, InvalidTransition, StaleTicket
from portal.services.status import OPEN_STATES
from portal.services.tokens import normalise_reference
from portal.services.writing import begin_write

PAGE_SIZE = 50
COUNT_CAP = 1000

# What still needs someone: the open states, and appeals waiting for a second look.
DEFAULT_STATUSES = frozenset(OPEN_STATES | {Status.APPEALED})


class QueueSort(LabelledEnum):
    DUE = "due", _l("Next due first")
    NEWEST = "newest", _l("Newest first")
    OLDEST = "oldest", _l("Oldest first")
    SEVERITY = "severity", _l("Most severe first")


@dataclass(frozen=True)
class QueueFilters:
    """What a view narrows the queue to; None (or empty) means "any"."""

    # None: any status.
    statuses: frozenset[Status] | None = DEFAULT_STATUSES
    team_id: int | None = None
    assignee_id: int | None = None
    unassigned: bool = False
    kind: TicketKind | None = None
    category: Category | None = None
    model_id: int | None = None
    model_version_id: int | None = None
    locale: str | None = None
    # The effective severity as ``Ticket.priority`` (1 low … 4 critical).
    priority: int | None = None
    # Where the running timers stand (``sla.in_state``, judged at the ``now`` of the query).
    sla_state: SlaState | None = None
    # What was typed in the search box: a reference, or words from the description or output.
    search: str | None = None

    @property
    def reference(self) -> str | None:
        """The searched reference in its canonical form, if the search is one."""
        return normalise_reference(self.search) if self.search else None

    @property
    def text(self) -> str | None:
        return self.search if self.search and self.reference is None else None


@dataclass(frozen=True)
class Cursor:
    """Where the previous page ended: the last row's sort key (the fields its order uses)."""

    sort: QueueSort
    created_at: datetime | None
    id: int
    priority: int | None = None
    # Next due first: the last row's deadline, or (once the running deadlines have run out) its
    # status, the reports with nothing due coming one status at a time.
    next_due_at: datetime | None = None
    status: Status | None = None


class InvalidCursor(ValueError):
    """The ``after`` parameter was not written by :func:`encode_cursor` for this sort."""


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_SORT_CODES = {
    QueueSort.DUE: "d",
    QueueSort.NEWEST: "n",
    QueueSort.OLDEST: "o",
    QueueSort.SEVERITY: "s",
}
# Next due first ends a page either among the running deadlines ("d") or after them ("w").
_NOTHING_DUE_CODE = "w"
# The fields of each cursor, in its text: (sort, code) -> field names.
_CURSOR_FIELDS = {
    (QueueSort.NEWEST, "n"): ("created_at", "id"),
    (QueueSort.OLDEST, "o"): ("created_at", "id"),
    (QueueSort.SEVERITY, "s"): ("priority", "created_at", "id"),
    (QueueSort.DUE, "d"): ("next_due_at", "id"),
    (QueueSort.DUE, _NOTHING_DUE_CODE): ("status", "created_at", "id"),
}
# A status travels as its place in this tuple (a cursor's parts are numbers).
_STATUSES = tuple(Status)
_PRIORITIES = frozenset(SEVERITY_PRIORITY.values())


def _to_number(name: str, value) -> int:
    if name in ("created_at", "next_due_at"):
        return (value - _EPOCH) // _MICROSECOND  # exact to the microsecond
    if name == "status":
        return _STATUSES.index(value)
    return value


def _from_number(name: str, number: int):
    """The field's value; ValueError for a number that no row could have."""
    if name in ("created_at", "next_due_at"):
        return _EPOCH + number * _MICROSECOND
    if name == "status" and number < len(_STATUSES):
        return _STATUSES[number]
    if (name == "priority" and number in _PRIORITIES) or (
        name == "id" and number <= MAX_DATABASE_ID
    ):
        return number
    raise ValueError(f"no {name} is {number}")


def encode_cursor(ticket: Ticket, sort: QueueSort) -> str:
    """The cursor of the page after ``ticket``: urlsafe text."""
    code = _SORT_CODES[sort]
    if sort is QueueSort.DUE and ticket.next_due_at is None:
        code = _NOTHING_DUE_CODE
    numbers = [_to_number(name, getattr(ticket, name)) for name in _CURSOR_FIELDS[sort, code]]
    text = ":".join([code, *map(str, numbers)])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(text: str, sort: QueueSort) -> Cursor:
    """Raises :class:`InvalidCursor` for anything :func:`encode_cursor` did not write for
    ``sort`` (an edited link, or a cursor of another order)."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
        code, *numbers = raw.split(":")
        names = _CURSOR_FIELDS.get((sort, code))
        if names is None or len(numbers) != len(names):
            raise InvalidCursor(text)
        if not all(part.isdigit() for part in numbers):
            raise InvalidCursor(text)
        values = {
            name: _from_number(name, int(part)) for name, part in zip(names, numbers, strict=True)
        }
        return Cursor(sort=sort, **{"created_at": None, **values})
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError) as error:
        raise InvalidCursor(text) from error


def _scoped(query: sa.Select, visible_team_ids: set[int] | None) -> sa.Select:
    """Only the tickets of the viewer's teams (None: all, for administrators)."""
    if visible_team_ids is None:
        return query
    if not visible_team_ids:
        return query.where(sa.false())
    if len(visible_team_ids) == 1:
        return query.where(Ticket.team_id == next(iter(visible_team_ids)))
    return query.where(Ticket.team_id.in_(sorted(visible_team_ids)))


def _filtered(
    filters: QueueFilters,
    visible_team_ids: set[int] | None,
    now: datetime,
    *,
    deadline_running: bool = False,
) -> sa.Select:
    """The view's tickets, unordered; ``deadline_running``: the caller keeps only those whose
    deadline runs."""
    query = _scoped(sa.select(Ticket), visible_team_ids)
    if visible_team_ids is not None and filters.team_id not in (None, *visible_team_ids):
        # Another team's queue: nothing, without asking the database.
        return query.where(sa.false())
    if filters.reference is not None:
        # A reference names one ticket: found by its unique index whatever the other filters
        # say (a closed case is still found), but never outside the viewer's teams.
        return query.where(Ticket.reference == filters.reference)
    # A running deadline implies a timed status (recompute_deadlines clears it on any other),
    # so where only those are kept, a status condition that admits every timed status is left
    # out: PostgreSQL would take the two for independent, expect next to no rows, and read and
    # sort them all rather than walk the deadlines.
    running_only = deadline_running or filters.sla_state is not None
    if filters.statuses is not None and not (
        running_only and filters.statuses >= sla.TIMED_STATUSES
    ):
        statuses = sorted(filters.statuses)
        if len(statuses) == 1:
            # Written into the statement, not sent as a parameter: both databases then see that
            # an open status lies in the list of ix_tickets_queue_open_nothing_due (PostgreSQL's
            # generic plans, made once for any parameter, could not use that index).
            query = query.where(Ticket.status == _named(statuses[0]))
        else:
            query = query.where(Ticket.status.in_(statuses))
    equalities = (
        (Ticket.team_id, filters.team_id),
        (Ticket.assignee_id, filters.assignee_id),
        (Ticket.kind, filters.kind),
        (Ticket.category, filters.category),
        (Ticket.model_id, filters.model_id),
        (Ticket.model_version_id, filters.model_version_id),
        (Ticket.locale, filters.locale),
        (Ticket.priority, filters.priority),
    )
    for column, value in equalities:
        if value is not None:
            query = query.where(column == value)
    if filters.unassigned:
        query = query.where(Ticket.assignee_id.is_(None))
    if filters.sla_state is not None:
        query = query.where(sla.in_state(filters.sla_state, now))
    if filters.text:
        # No index can answer a substring. SQLite walks the tickets in the view's order
        # (through the order's index) and stops as soon as a page has matched; PostgreSQL,
        # expecting few matches, may read the table instead. Either way a rare word can mean
        # reading every ticket in the view (so it is not counted): a reference is the fast way
        # to one case.
        query = query.where(
            sa.or_(
                Ticket.description.icontains(filters.text, autoescape=True),
                Ticket.output_text.icontains(filters.text, autoescape=True),
            )
        )
    return query


def _named(status: Status) -> sa.BindParameter:
    """``status`` as a literal of the statement's text."""
    return sa.literal(status, Ticket.status.type, literal_execute=True)


def _position(after: Cursor, *columns) -> sa.Tuple:
    """The cursor's values for ``columns``, typed as the columns are."""
    return sa.tuple_(*(sa.literal(getattr(after, column.key), column.type) for column in columns))


def _ordered(query: sa.Select, sort: QueueSort, after: Cursor | None) -> sa.Select:
    # Row-value comparisons: both databases turn them into an index range that starts right
    # after the cursor (SQLite since 3.15), where an OR of column comparisons would not.
    if sort is QueueSort.SEVERITY:
        key = (Ticket.priority, Ticket.created_at, Ticket.id)
        query = query.order_by(*(column.desc() for column in key))
        return query if after is None else query.where(sa.tuple_(*key) < _position(after, *key))
    key = (Ticket.created_at, Ticket.id)
    if sort is QueueSort.OLDEST:
        query = query.order_by(*key)
        return query if after is None else query.where(sa.tuple_(*key) > _position(after, *key))
    query = query.order_by(*(column.desc() for column in key))
    return query if after is None else query.where(sa.tuple_(*key) < _position(after, *key))


# "Next due first" is the reports whose deadline runs, soonest first, then those with none. The
# first condition is the WHERE of ix_tickets_queue_due and ix_tickets_queue_team_due, repeated
# exactly so that both databases can use them.
DEADLINE_RUNNING = Ticket.next_due_at.is_not(None)
NOTHING_DUE = Ticket.next_due_at.is_(None)
# The open reports (``sla.TIMED_STATUSES``) with no deadline running: the WHERE of
# ix_tickets_queue_open_nothing_due, as literal text written exactly as the index's, for a count
# of them all (the SLA dashboard's). A walk of one status need not repeat it: the status,
# written into the statement, implies it on both databases.
OPEN_NOTHING_DUE = sa.text(
    "next_due_at IS NULL AND (status = 'new' OR status = 'triaged'"
    " OR status = 'investigating' OR status = 'awaiting_reporter'"
    " OR status = 'appealed')"
)
# The reports with no deadline running come one status at a time, in this order: those waiting
# for the reporter first (in the default view, the only ones once deadlines are computed).
NOTHING_DUE_STATUSES = (
    Status.AWAITING_REPORTER,
    *(status for status in Status if status is not Status.AWAITING_REPORTER),
)


def _by_deadline(query: sa.Select, after: Cursor | None) -> sa.Select:
    """The reports with a running deadline, soonest first (the id breaks ties)."""
    key = (Ticket.next_due_at, Ticket.id)
    query = query.where(DEADLINE_RUNNING).order_by(*key)
    return query if after is None else query.where(sa.tuple_(*key) > _position(after, *key))


def _nothing_due(query: sa.Select, status: Status, after: Cursor | None) -> sa.Select:
    """The reports of ``status`` with no running deadline, oldest first.

    For an open status, a range of ``ix_tickets_queue_open_nothing_due``, which holds just
    those: few but the reports waiting for the reporter, and often none, which a walk through
    ``ix_tickets_queue_status`` would read every report of the status to find out. The order
    is led by the deadline, NULL throughout, so that this index is the only one in that order:
    ordered by date alone, PostgreSQL would walk ``ix_tickets_created_at``, taking NULL
    deadlines for as common among the new reports as among all, and read every ticket to find
    none. For any other status, where no deadline runs, a range of ``ix_tickets_queue_status``.
    """
    key = (Ticket.created_at, Ticket.id)
    order = (Ticket.next_due_at, *key) if status in sla.TIMED_STATUSES else key
    query = query.where(NOTHING_DUE).order_by(*order)
    return query if after is None else query.where(sa.tuple_(*key) > _position(after, *key))


def _due_walks(
    filters: QueueFilters, visible_team_ids: set[int] | None, now: datetime, after: Cursor | None
) -> list[sa.Select]:
    """Next due first, from ``after``: the running deadlines, then each status's reports with
    none.

    Several walks, because no single ORDER BY is an index order for it on both databases:
    PostgreSQL sorts NULL last and SQLite first, ordering by "is NULL" sorts the whole view,
    and a list of statuses is one index range only one status at a time (the default view's
    open statuses would otherwise walk the closed history that lies between them).
    """
    walks = []
    if after is None or after.next_due_at is not None:
        running = _filtered(filters, visible_team_ids, now, deadline_running=True)
        walks.append(_by_deadline(running, after))
        after = None
    if filters.sla_state is not None:
        return walks  # a service level exists only while a deadline runs
    statuses = [
        status
        for status in NOTHING_DUE_STATUSES
        if filters.statuses is None or status in filters.statuses
    ]
    if after is not None:
        # The page ended among this status's reports: the walk resumes there.
        statuses = statuses[statuses.index(after.status) :] if after.status in statuses else []
    for status in statuses:
        one_status = replace(filters, statuses=frozenset({status}))
        resume = after if after is not None and status is after.status else None
        walks.append(_nothing_due(_filtered(one_status, visible_team_ids, now), status, resume))
    return walks


def _service_level(now: datetime) -> sa.ColumnElement:
    """Each row's ``SlaState`` value at ``now`` (NULL when no deadline runs): the very
    conditions the service-level filter uses, so that a row's tag always agrees with it."""
    return sa.case(*((sla.in_state(state, now), state.value) for state in SlaState))


def page_queries(
    filters: QueueFilters,
    *,
    sort: QueueSort = QueueSort.DUE,
    visible_team_ids: set[int] | None,
    now: datetime,
    after: Cursor | None = None,
    page_size: int = PAGE_SIZE,
) -> list[sa.Select]:
    """The statements that read one page, in the page's order, each limited to one page plus
    one row (which tells whether another page follows): the page is their rows, one statement
    after the other, until it is full. Each row is a ticket and its service level at ``now``;
    each ticket's team and assignee are loaded by a second query (by primary key). ``after``
    is a cursor decoded for ``sort``.

    Every order is one statement but "next due first", which is several index walks one after
    the other (see ``_due_walks``), most of them needed only once the first has run out.
    """
    if sort is QueueSort.DUE and filters.reference is None:
        statements = _due_walks(filters, visible_team_ids, now, after)
    else:
        # A searched reference is one report: any order will do.
        query = _filtered(filters, visible_team_ids, now)
        statements = [query if sort is QueueSort.DUE else _ordered(query, sort, after)]
    return [
        statement.add_columns(_service_level(now))
        .limit(page_size + 1)
        .options(selectinload(Ticket.team), selectinload(Ticket.assignee))
        for statement in statements
    ]


def count_query(
    filters: QueueFilters,
    *,
    visible_team_ids: set[int] | None,
    now: datetime,
    cap: int = COUNT_CAP,
) -> sa.Select:
    """How many tickets the view holds, counting no further than ``cap`` + 1.

    The tickets are counted newest first, whatever the view's order: the count then walks an
    index that follows the table's physical order and stops after ``cap`` + 1, where an
    unordered LIMIT (or the severity order) lets PostgreSQL choose to read the whole table. A
    view of one service level is counted along its deadlines instead: its tickets are one
    range of ``ix_tickets_queue_due``, where the newest-first walk would pass every closed one.
    """
    order = Ticket.next_due_at if filters.sla_state is not None else Ticket.created_at.desc()
    matching = (
        _filtered(filters, visible_team_ids, now)
        .with_only_columns(Ticket.id)
        .order_by(order)
        .limit(cap + 1)
        .subquery()
    )
    return sa.select(sa.func.count()).select_from(matching)


@dataclass
class QueuePage:
    tickets: list[Ticket]
    next_cursor: str | None
    # Tickets in the whole view, at most COUNT_CAP; None when not counted (a text search).
    total: int | None
    total_capped: bool = False
    # Each ticket's service level (by id) when the page was read; none while no deadline runs.
    sla_states: dict[int, SlaState] = field(default_factory=dict)


def load_page(
    filters: QueueFilters,
    *,
    sort: QueueSort,
    visible_team_ids: set[int] | None,
    now: datetime,
    after: Cursor | None = None,
    page_size: int = PAGE_SIZE,
) -> QueuePage:
    """A page of the queue with its team and assignee loaded, each ticket's service level at
    ``now``, the next page's cursor and the view's capped count. Reads only."""
    rows = []
    for statement in page_queries(
        filters,
        sort=sort,
        visible_team_ids=visible_team_ids,
        now=now,
        after=after,
        page_size=page_size,
    ):
        if len(rows) > page_size:
            break
        # A later statement reads only the rows the page still lacks.
        rows += db.session.execute(statement.limit(page_size + 1 - len(rows))).all()
    tickets = [ticket for ticket, _state in rows]
    next_cursor = encode_cursor(tickets[page_size - 1], sort) if len(rows) > page_size else None
    total = None
    if not filters.text:
        # A text search is not counted: counting would read every ticket in the view.
        total = db.session.scalar(count_query(filters, visible_team_ids=visible_team_ids, now=now))
    capped = total is not None and total > COUNT_CAP
    return QueuePage(
        tickets=tickets[:page_size],
        next_cursor=next_cursor,
        total=min(total, COUNT_CAP) if total is not None else None,
        total_capped=capped,
        sla_states={ticket.id: SlaState(state) for ticket, state in rows[:page_size] if state},
    )


@dataclass(frozen=True)
class FilterOptions:
    teams: list[Team]
    members: list[StaffUser]
    models: list[AIModel]


def filter_options(visible_team_ids: set[int] | None) -> FilterOptions:
    """What the viewer can filter on: their teams, those teams' members, the model registry."""
    teams = sa.select(Team).order_by(Team.name, Team.id)
    if visible_team_ids is not None:
        teams = teams.where(Team.id.in_(sorted(visible_team_ids)))
    models = (
        sa.select(AIModel)
        .options(selectinload(AIModel.versions))
        .order_by(AIModel.display_name, AIModel.id)
    )
    return FilterOptions(
        teams=list(db.session.scalars(teams)),
        members=assignable_staff(visible_team_ids),
        models=list(db.session.scalars(models)),
    )


def assignable_staff(visible_team_ids: set[int] | None) -> list[StaffUser]:
    """Active members of the viewer's teams (every team for administrators), by name: the
    people a view can filter on and a bulk action can assign to."""
    members = (
        sa.select(TeamMembership.user_id)
        if visible_team_ids is None
        else sa.select(TeamMembership.user_id).where(
            TeamMembership.team_id.in_(sorted(visible_team_ids))
        )
    )
    people = db.session.scalars(
        sa.select(StaffUser)
        .where(StaffUser.id.in_(members), StaffUser.is_active.is_(True))
        .order_by(StaffUser.display_name, StaffUser.id)
        .options(selectinload(StaffUser.role_grants))
    )
    # An analyst or auditor in a team cannot open a case: never offered one.
    return [person for person in people if person.has_any_role(CASEWORK)]


def selected_tickets(ticket_ids: list[int], visible_team_ids: set[int] | None) -> list[Ticket]:
    """The tickets chosen for a bulk action that the viewer may see, by id (one fixed order, so
    that two bulk actions at once take their row locks in the same order); an id outside the
    viewer's teams is left out exactly like one that does not exist."""
    if not ticket_ids:
        return []
    query = sa.select(Ticket).where(Ticket.id.in_(sorted(set(ticket_ids))))
    query = _scoped(query, visible_team_ids)
    return list(db.session.scalars(query.order_by(Ticket.id)))


# At most this many reports in one bulk action (two pages of the queue): a bound on how long
# the request holds the database's write lock.
MAX_BULK_TICKETS = 100

# The statuses a bulk action may move reports to: those the case page's status form offers
# (the others each have an action of their own, such as a decision with its reasons).
BULK_STATUSES = tuple(
    status
    for status in Status
    if status is not Status.NEW and status not in casework.NOT_ON_THE_STATUS_FORM
)


class BulkKind(StrEnum):
    ASSIGN = "assign"
    STATUS = "status"
    SPAM = "spam"


@dataclass(frozen=True)
class BulkAction:
    kind: BulkKind
    # For ASSIGN: the new assignee, None for back to the team's queue.
    assignee: StaffUser | None = None
    # For STATUS: the status to move to.
    status: Status | None = None


# Why a report was left unchanged (besides CaseworkRefused's own reasons).
STALE = "stale"
INVALID_TRANSITION = "invalid_transition"


@dataclass
class BulkOutcome:
    changed: list[str] = field(default_factory=list)
    # Already as asked (for example assigned to that person): nothing to do.
    unchanged: list[str] = field(default_factory=list)
    # Reason code -> references of the reports refused for that reason.
    refused: dict[str, list[str]] = field(default_factory=dict)
    # Selected reports that do not exist or are outside the viewer's teams (never named).
    not_found: int = 0


def apply_bulk_action(
    selection: dict[int, int],
    action: BulkAction,
    *,
    staff: StaffUser,
    now: datetime,
    visible_team_ids: set[int] | None,
) -> BulkOutcome:
    """Apply ``action`` to each selected report the viewer may see, through the casework
    services (which record an event naming ``staff``, and so an audit entry).

    ``selection`` maps ticket id -> the ``row_version`` the queue showed: a report changed by
    someone else since is refused as stale rather than overwritten. Each report is changed
    inside a savepoint, so a refusal (or a conflicting write caught at flush) undoes that
    report alone; the caller commits the others together, in one transaction.
    """
    # Savepoints need the transaction begun, and the versions read must be the ones written.
    begin_write()
    tickets = selected_tickets(list(selection), visible_team_ids)
    outcome = BulkOutcome(not_found=len(selection) - len(tickets))
    for ticket in tickets:
        reference = ticket.reference
        try:
            with db.session.begin_nested():
                event = _apply(ticket, action, staff=staff, now=now, version=selection[ticket.id])
                db.session.flush()
        except (StaleTicket, StaleDataError):
            outcome.refused.setdefault(STALE, []).append(reference)
        except InvalidTransition:
            outcome.refused.setdefault(INVALID_TRANSITION, []).append(reference)
        except CaseworkRefused as refusal:
            outcome.refused.setdefault(refusal.reason, []).append(reference)
        else:
            (outcome.changed if event is not None else outcome.unchanged).append(reference)
    return outcome


def _apply(ticket: Ticket, action: BulkAction, *, staff: StaffUser, now: datetime, version: int):
    if action.kind is BulkKind.ASSIGN:
        return casework.assign(
            ticket, action.assignee, staff=staff, now=now, expect_version=version
        )
    if action.kind is BulkKind.STATUS:
        return casework.change_status(
            ticket, action.status, staff=staff, now=now, expect_version=version
        )
    return casework.mark_spam(ticket, staff=staff, now=now, expect_version=version)
