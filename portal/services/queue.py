"""The staff triage queue: which tickets a view shows, in which order, a page at a time.

Every view is one filter per column (``QUEUE_FILTER_COLUMNS``) and one of three orders, each an
index order: ``ix_tickets_queue_<column>`` is (column, created_at, id), so an equality filter
plus the date order is an index range scan that stops after a page, and the severity order
walks ``ix_tickets_queue_priority``. Pages follow each other by keyset (the last row's sort
key, in the opaque ``after`` cursor), never by OFFSET, so page 400 costs what page 1 does.
Counts stop at ``COUNT_CAP``: "1,000+" is all a triage view needs to know.

The functions take explicit arguments (the viewer's visible teams, already resolved), so that
tests/test_queue_plans.py can EXPLAIN exactly the statements the view runs.
"""

import base64
import binascii
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from portal.access import CASEWORK
from portal.extensions import db
from portal.models import AIModel, Category, StaffUser, Status, Team, Ticket, TicketKind
from portal.models.enums import LabelledEnum
from portal.models.routing import TeamMembership
from portal.models.tickets import SEVERITY_PRIORITY
from portal.models.types import MAX_DATABASE_ID
from portal.services import casework
from portal.services.errors import CaseworkRefused, InvalidTransition, StaleTicket
from portal.services.status import OPEN_STATES
from portal.services.tokens import normalise_reference
from portal.services.writing import begin_write

PAGE_SIZE = 50
COUNT_CAP = 1000

# What still needs someone: the open states, and appeals waiting for a second look.
DEFAULT_STATUSES = frozenset(OPEN_STATES | {Status.APPEALED})


class QueueSort(LabelledEnum):
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
    """Where the previous page ended: the last row's sort key."""

    sort: QueueSort
    created_at: datetime
    id: int
    priority: int | None = None


class InvalidCursor(ValueError):
    """The ``after`` parameter was not written by :func:`encode_cursor` for this sort."""


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_SORT_CODES = {QueueSort.NEWEST: "n", QueueSort.OLDEST: "o", QueueSort.SEVERITY: "s"}


def encode_cursor(ticket: Ticket, sort: QueueSort) -> str:
    """The cursor of the page after ``ticket``: urlsafe text, exact to the microsecond."""
    micros = (ticket.created_at - _EPOCH) // _MICROSECOND
    parts = [_SORT_CODES[sort]]
    if sort is QueueSort.SEVERITY:
        parts.append(str(ticket.priority))
    parts += [str(micros), str(ticket.id)]
    return base64.urlsafe_b64encode(":".join(parts).encode()).decode().rstrip("=")


_PRIORITIES = frozenset(SEVERITY_PRIORITY.values())


def decode_cursor(text: str, sort: QueueSort) -> Cursor:
    """Raises :class:`InvalidCursor` for anything :func:`encode_cursor` did not write for
    ``sort`` (an edited link, or a cursor of another order)."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
        code, *numbers = raw.split(":")
        if code != _SORT_CODES[sort] or not all(part.isdigit() for part in numbers):
            raise InvalidCursor(text)
        values = [int(part) for part in numbers]
        priority = values.pop(0) if sort is QueueSort.SEVERITY and len(values) == 3 else None
        if len(values) != 2 or (sort is QueueSort.SEVERITY and priority is None):
            raise InvalidCursor(text)
        micros, ticket_id = values
        if ticket_id > MAX_DATABASE_ID or (priority is not None and priority not in _PRIORITIES):
            raise InvalidCursor(text)
        return Cursor(sort, _EPOCH + micros * _MICROSECOND, ticket_id, priority)
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


def _filtered(filters: QueueFilters, visible_team_ids: set[int] | None) -> sa.Select:
    query = _scoped(sa.select(Ticket), visible_team_ids)
    if visible_team_ids is not None and filters.team_id not in (None, *visible_team_ids):
        # Another team's queue: nothing, without asking the database.
        return query.where(sa.false())
    if filters.reference is not None:
        # A reference names one ticket: found by its unique index whatever the other filters
        # say (a closed case is still found), but never outside the viewer's teams.
        return query.where(Ticket.reference == filters.reference)
    if filters.statuses is not None:
        statuses = sorted(filters.statuses)
        if len(statuses) == 1:
            query = query.where(Ticket.status == statuses[0])
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


def _ordered(query: sa.Select, sort: QueueSort, after: Cursor | None) -> sa.Select:
    # Row-value comparisons: both databases turn them into an index range that starts right
    # after the cursor (SQLite since 3.15), where an OR of column comparisons would not.
    if sort is QueueSort.SEVERITY:
        query = query.order_by(Ticket.priority.desc(), Ticket.created_at.desc(), Ticket.id.desc())
        if after is not None:
            query = query.where(
                sa.tuple_(Ticket.priority, Ticket.created_at, Ticket.id)
                < sa.tuple_(
                    sa.literal(after.priority, Ticket.priority.type),
                    sa.literal(after.created_at, Ticket.created_at.type),
                    sa.literal(after.id, Ticket.id.type),
                )
            )
        return query
    key = sa.tuple_(Ticket.created_at, Ticket.id)
    if after is not None:
        position = sa.tuple_(
            sa.literal(after.created_at, Ticket.created_at.type),
            sa.literal(after.id, Ticket.id.type),
        )
    if sort is QueueSort.OLDEST:
        query = query.order_by(Ticket.created_at.asc(), Ticket.id.asc())
        return query if after is None else query.where(key > position)
    query = query.order_by(Ticket.created_at.desc(), Ticket.id.desc())
    return query if after is None else query.where(key < position)


def page_query(
    filters: QueueFilters,
    *,
    sort: QueueSort = QueueSort.NEWEST,
    visible_team_ids: set[int] | None,
    after: Cursor | None = None,
    page_size: int = PAGE_SIZE,
) -> sa.Select:
    """One page of the view, plus one row that tells whether another page follows; each
    ticket's team and assignee are loaded by a second query (by primary key). ``after`` is a
    cursor decoded for ``sort``."""
    query = _ordered(_filtered(filters, visible_team_ids), sort, after).limit(page_size + 1)
    return query.options(selectinload(Ticket.team), selectinload(Ticket.assignee))


def count_query(
    filters: QueueFilters, *, visible_team_ids: set[int] | None, cap: int = COUNT_CAP
) -> sa.Select:
    """How many tickets the view holds, counting no further than ``cap`` + 1.

    The tickets are counted newest first, whatever the view's order: the count then walks an
    index that follows the table's physical order and stops after ``cap`` + 1, where an
    unordered LIMIT (or the severity order) lets PostgreSQL choose to read the whole table.
    """
    matching = (
        _filtered(filters, visible_team_ids)
        .with_only_columns(Ticket.id)
        .order_by(Ticket.created_at.desc())
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


def load_page(
    filters: QueueFilters,
    *,
    sort: QueueSort,
    visible_team_ids: set[int] | None,
    after: Cursor | None = None,
    page_size: int = PAGE_SIZE,
) -> QueuePage:
    """A page of the queue with its team and assignee loaded, the next page's cursor and the
    view's capped count. Reads only."""
    query = page_query(
        filters, sort=sort, visible_team_ids=visible_team_ids, after=after, page_size=page_size
    )
    rows = list(db.session.scalars(query))
    next_cursor = encode_cursor(rows[page_size - 1], sort) if len(rows) > page_size else None
    total = None
    if not filters.text:
        # A text search is not counted: counting would read every ticket in the view.
        total = db.session.scalar(count_query(filters, visible_team_ids=visible_team_ids))
    capped = total is not None and total > COUNT_CAP
    return QueuePage(
        tickets=rows[:page_size],
        next_cursor=next_cursor,
        total=min(total, COUNT_CAP) if total is not None else None,
        total_capped=capped,
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
