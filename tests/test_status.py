"""The status state machine: every allowed move works, every other move is refused."""

from datetime import timedelta

import pytest

from portal.clock import utcnow
from portal.models import Actor, Category, EventKind, Severity, Status, Ticket
from portal.services.errors import InvalidTransition
from portal.services.status import ALLOWED_TRANSITIONS, OPEN_STATES, can_transition, transition

APPEAL_WINDOW = timedelta(days=183)
ALLOWED = sorted(
    (source, target) for source, targets in ALLOWED_TRANSITIONS.items() for target in targets
)
FORBIDDEN = sorted(
    (source, target)
    for source in Status
    for target in Status
    if target not in ALLOWED_TRANSITIONS[source]
)


def ticket_in(status: Status, decided_days_ago: int | None = 1) -> Ticket:
    """A ticket received an hour ago, in ``status``; moving it recomputes its deadlines, which
    reads the SLA policies (so the tests that move one need the ``app`` context)."""
    now = utcnow()
    decided_at = None if decided_days_ago is None else now - timedelta(days=decided_days_ago)
    return Ticket(
        status=status,
        events=[],
        decided_at=decided_at,
        created_at=now - timedelta(hours=1),
        category=Category.OTHER,
        reporter_severity=Severity.MEDIUM,
    )


@pytest.fixture
def in_app(app):
    with app.app_context():
        yield


def test_the_table_covers_every_status():
    assert set(ALLOWED_TRANSITIONS) == set(Status)


@pytest.mark.parametrize(("source", "target"), ALLOWED)
def test_allowed_transition_moves_the_ticket_and_records_an_event(in_app, source, target):
    ticket = ticket_in(source)
    now = utcnow()

    event = transition(ticket, target, now=now, actor=Actor.STAFF, body="because")

    assert ticket.status is target
    assert ticket.events == [event]
    assert (event.kind, event.from_status, event.to_status) == (
        EventKind.STATUS_CHANGED,
        source,
        target,
    )
    assert event.created_at == now


@pytest.mark.parametrize(("source", "target"), FORBIDDEN)
def test_forbidden_transition_is_refused_and_changes_nothing(source, target):
    ticket = ticket_in(source)

    with pytest.raises(InvalidTransition):
        transition(ticket, target, now=utcnow(), actor=Actor.STAFF)

    assert ticket.status is source
    assert ticket.events == []


@pytest.mark.parametrize("source", sorted(OPEN_STATES))
def test_a_reporter_can_withdraw_any_open_report(source):
    assert can_transition(ticket_in(source), Status.WITHDRAWN, utcnow())


@pytest.mark.parametrize("source", [Status.DECIDED, Status.CLOSED])
def test_a_decided_report_cannot_be_withdrawn(source):
    assert not can_transition(ticket_in(source), Status.WITHDRAWN, utcnow())


def test_a_report_under_appeal_can_be_withdrawn_which_ends_the_work_on_it(in_app):
    ticket = ticket_in(Status.APPEALED)
    now = utcnow()

    transition(ticket, Status.WITHDRAWN, now=now, actor=Actor.REPORTER)

    assert (ticket.status, ticket.closed_at) == (Status.WITHDRAWN, now)


def test_a_closed_ticket_can_be_appealed_inside_the_window_only():
    now = utcnow()
    inside = ticket_in(Status.CLOSED, decided_days_ago=30)
    outside = ticket_in(Status.CLOSED, decided_days_ago=200)

    assert can_transition(inside, Status.APPEALED, now, APPEAL_WINDOW)
    assert not can_transition(outside, Status.APPEALED, now, APPEAL_WINDOW)
    with pytest.raises(InvalidTransition):
        transition(outside, Status.APPEALED, now=now, actor=Actor.REPORTER)


def test_deciding_and_closing_stamp_their_times(in_app):
    ticket = ticket_in(Status.INVESTIGATING, decided_days_ago=None)
    decided = utcnow()
    transition(ticket, Status.DECIDED, now=decided, actor=Actor.STAFF)
    closed = decided + timedelta(days=2)
    transition(ticket, Status.CLOSED, now=closed, actor=Actor.SYSTEM)

    assert (ticket.decided_at, ticket.closed_at) == (decided, closed)


@pytest.mark.parametrize("end", [Status.WITHDRAWN, Status.MERGED])
def test_withdrawing_or_merging_stamps_when_work_ended(in_app, end):
    ticket = ticket_in(Status.INVESTIGATING, decided_days_ago=None)
    now = utcnow()

    transition(ticket, end, now=now, actor=Actor.REPORTER)

    assert ticket.closed_at == now
