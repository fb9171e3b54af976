"""The reporter's side of a decision: what they are told of it, and their one appeal against it.

A report is appealed at most once: against its first decision, inside the appeal window, and
the answer (a decision of its own, confirming or reversing) cannot be appealed here again. From
then on, as at every step, the route outside this portal stays open (``PORTAL_OUTSIDE_REDRESS``).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from portal.extensions import db
from portal.models import (
    Actor,
    Appeal,
    Attachment,
    Decision,
    EventKind,
    Status,
    Ticket,
    TicketEvent,
)
from portal.services import sla
from portal.services.assignment import hand_over_appeal
from portal.services.attachments import StoredFile
from portal.services.decisions import appealable_until, current_decision
from portal.services.errors import DomainError
from portal.services.status import can_transition, transition


class AppealRefused(DomainError):
    """The reporter may not appeal now; ``reason`` is one of the codes below, which the views
    turn into a translated explanation of what they can do instead."""

    NOT_DECIDED = "not_decided"  # no decision yet
    UNDER_REVIEW = "under_review"  # appealed already, and the appeal is not answered yet
    ANSWERED = "answered"  # the one appeal was made and answered
    WINDOW_CLOSED = "window_closed"  # the appeal window has passed

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class DecisionRecord:
    """The decisions on a report as its reporter sees them, and whether they may appeal."""

    # The decision that was (or can be) appealed: the report's first.
    decision: Decision
    appeal: Appeal | None
    # The decision that answered the appeal, once there is one.
    answer: Decision | None
    # The last moment the reporter may appeal ``decision`` (None if it answers an appeal).
    appeal_until: datetime | None
    # Why they may not appeal now (an ``AppealRefused`` code), or None when they may.
    refusal: str | None

    @property
    def can_appeal(self) -> bool:
        return self.refusal is None


def configured_window() -> timedelta:
    """How long after a decision its reporter may appeal it."""
    return timedelta(days=current_app.config["PORTAL_APPEAL_WINDOW_DAYS"])


def _window_to_deadline(decision: Decision, window: timedelta) -> timedelta:
    """The state machine measures the window from the decision's time; the decision's own
    deadline (the end of a day in the reporter's zone) is the one that counts."""
    return max(window, appealable_until(decision, window=window) - decision.decided_at)


def decision_record(ticket: Ticket, *, now: datetime, window: timedelta) -> DecisionRecord | None:
    """What the reporter is shown of the decisions on ``ticket``, or None before any."""
    current = current_decision(ticket)
    if current is None:
        return None
    # Answered or not (decisions.open_appeal finds only the one under review).
    latest_appeal = db.session.scalar(
        sa.select(Appeal)
        .where(Appeal.ticket_id == ticket.id)
        .order_by(Appeal.submitted_at.desc(), Appeal.id.desc())
        .limit(1)
    )
    appealable = latest_appeal.decision if latest_appeal is not None else current
    return DecisionRecord(
        decision=appealable,
        appeal=latest_appeal,
        answer=latest_appeal.answer if latest_appeal is not None else None,
        appeal_until=appealable_until(appealable, window=window),
        refusal=_refusal(ticket, current, latest_appeal, now=now, window=window),
    )


def _refusal(
    ticket: Ticket,
    current: Decision,
    latest_appeal: Appeal | None,
    *,
    now: datetime,
    window: timedelta,
) -> str | None:
    if latest_appeal is not None and latest_appeal.answer_id is None:
        return AppealRefused.UNDER_REVIEW
    if latest_appeal is not None or current.appeal_result is not None:
        return AppealRefused.ANSWERED
    if now >= appealable_until(current, window=window):
        return AppealRefused.WINDOW_CLOSED
    if not can_transition(ticket, Status.APPEALED, now, _window_to_deadline(current, window)):
        # Decided, yet neither decided nor closed now: only an appeal moves a ticket on from
        # there, whatever the rows say.
        return AppealRefused.UNDER_REVIEW
    return None


def appeal(
    ticket: Ticket,
    *,
    reason: str,
    files: Iterable[StoredFile],
    now: datetime,
    window: timedelta,
) -> Appeal:
    """Appeal the ticket's decision with the reporter's ``reason`` and new evidence ``files``.

    Raises :class:`AppealRefused` when there is no decision, it is already appealed (or the
    answer to an appeal), or the window has passed. The appeal's own timers start now, on the
    appeal terms; the ticket leaves the original decider, who may not review their own
    decision (``assignment.hand_over_appeal``, which flushes). Two appeals of one decision
    racing each other are stopped by the unique key on ``appeals.decision_id``.
    """
    record = decision_record(ticket, now=now, window=window)
    if record is None:
        raise AppealRefused(AppealRefused.NOT_DECIDED)
    if record.refusal is not None:
        raise AppealRefused(record.refusal)
    decision = record.decision
    lodged = Appeal(ticket=ticket, decision=decision, reason=reason, submitted_at=now)
    db.session.add(lodged)
    # The reporter's own words and files first, then the move they cause (as the history
    # reads them, newest first: "under review" above "appeal received").
    event = TicketEvent(
        kind=EventKind.APPEALED, actor=Actor.REPORTER, is_public=True, body=reason, created_at=now
    )
    ticket.events.append(event)
    for stored in files:
        attachment = Attachment(created_at=now, **vars(stored))
        ticket.attachments.append(attachment)
        event.attachments.append(attachment)
    sla.start_appeal_clock(ticket, now=now)
    transition(
        ticket,
        Status.APPEALED,
        now=now,
        actor=Actor.REPORTER,
        appeal_window=_window_to_deadline(decision, window),
    )
    # A decision is owed again: until the answer, the report counts as undecided in the
    # service-level figures (its decision target is the appeal's own deadline, not met by the
    # first decision). The first decision keeps its own time on its Decision row.
    ticket.decided_at = None
    hand_over_appeal(ticket, now=now)
    return lodged
