"""The ticket status state machine: the only place a ticket's status changes."""

from datetime import datetime, timedelta

from portal.models import Actor, EventKind, Status, Ticket, TicketEvent
from portal.services import sla
from portal.services.errors import InvalidTransition

# Open states from which a report may be withdrawn or merged into another.
OPEN_STATES = frozenset(
    {Status.NEW, Status.TRIAGED, Status.INVESTIGATING, Status.AWAITING_REPORTER}
)

ALLOWED_TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset({Status.TRIAGED, Status.WITHDRAWN, Status.MERGED}),
    Status.TRIAGED: frozenset({Status.INVESTIGATING, Status.WITHDRAWN, Status.MERGED}),
    Status.INVESTIGATING: frozenset(
        {Status.AWAITING_REPORTER, Status.DECIDED, Status.WITHDRAWN, Status.MERGED}
    ),
    Status.AWAITING_REPORTER: frozenset({Status.INVESTIGATING, Status.WITHDRAWN, Status.MERGED}),
    Status.DECIDED: frozenset({Status.CLOSED, Status.APPEALED}),
    # Appealing a closed ticket is allowed only inside the appeal window (checked below).
    Status.CLOSED: frozenset({Status.APPEALED}),
    # Withdrawing under appeal stops the review (and erasure withdraws whatever is open).
    Status.APPEALED: frozenset({Status.DECIDED, Status.WITHDRAWN}),
    Status.WITHDRAWN: frozenset(),
    Status.MERGED: frozenset(),
}

# Where work on a report has ended (for now: an appeal reopens a closed report).
ENDED_STATES = frozenset({Status.CLOSED, Status.WITHDRAWN, Status.MERGED})

DEFAULT_APPEAL_WINDOW = timedelta(days=183)


def appeal_window_open(ticket: Ticket, now: datetime, window: timedelta) -> bool:
    return ticket.decided_at is not None and now <= ticket.decided_at + window


def can_transition(
    ticket: Ticket,
    to: Status,
    now: datetime,
    appeal_window: timedelta = DEFAULT_APPEAL_WINDOW,
    *,
    spam: bool = False,
) -> bool:
    if spam:
        # Spam is closed straight from any open state, without a decision.
        return to is Status.CLOSED and ticket.status in OPEN_STATES
    if to not in ALLOWED_TRANSITIONS[ticket.status]:
        return False
    if ticket.status is Status.CLOSED and to is Status.APPEALED:
        return appeal_window_open(ticket, now, appeal_window)
    return True


def transition(
    ticket: Ticket,
    to: Status,
    *,
    now: datetime,
    actor: Actor,
    body: str | None = None,
    is_public: bool = True,
    appeal_window: timedelta = DEFAULT_APPEAL_WINDOW,
    spam: bool = False,
) -> TicketEvent:
    """Move ``ticket`` to ``to`` and record the change as an event.

    Raises :class:`InvalidTransition` when the state machine does not allow the move. The event
    is added to the ticket's history; the caller's session flushes and commits it.
    """
    if not can_transition(ticket, to, now, appeal_window, spam=spam):
        raise InvalidTransition(ticket.status, to)
    event = TicketEvent(
        kind=EventKind.STATUS_CHANGED,
        actor=actor,
        is_public=is_public,
        from_status=ticket.status,
        to_status=to,
        body=body,
        created_at=now,
    )
    before = ticket.status
    ticket.status = to
    ticket.updated_at = now
    if to is Status.DECIDED:
        ticket.decided_at = now
    elif to in ENDED_STATES:
        ticket.closed_at = now
    ticket.events.append(event)
    sla.status_changed(ticket, before, now=now)
    return event
