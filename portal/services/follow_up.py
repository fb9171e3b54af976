"""The follow-up: "Did this resolve your concern?", asked some days after a decision.

The clock asks (``run_due``): once per decision, ``PORTAL_FOLLOW_UP_DAYS`` after it, by e-mail
when the reporter agreed to be contacted and always on their page, with a link that opens
the page at the question. The reporter answers yes, partly or no, with a comment if they wish;
"no" inside the appeal window leads to the appeal. The answers feed the staff's figures.

The same job closes the reports decided ``PORTAL_CLOSE_DECIDED_AFTER_DAYS`` ago and not
appealed: decided → closed, as DESIGN.md's state machine has it. An appeal inside the window
still reopens a closed report.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from portal.extensions import db
from portal.models import Actor, Decision, EventKind, FollowUpAnswer, Status, Ticket, TicketEvent
from portal.services import casework
from portal.services.decisions import current_decision
from portal.services.errors import DomainError
from portal.services.links import LinkPurpose, portal_url, signed_token
from portal.services.status import transition
from portal.services.writing import begin_write

# The statuses in which a decision stands and may be asked about (not under appeal, nor
# withdrawn, nor merged).
ANSWERABLE_STATES = frozenset({Status.DECIDED, Status.CLOSED})
BATCH = 200


class NoQuestion(DomainError):
    """Nothing to answer: not asked yet, answered already (``answered``: a double click, another
    tab), or the decision no longer stands."""

    def __init__(self, *, answered: bool):
        super().__init__("answered already" if answered else "no follow-up question")
        self.answered = answered


@dataclass(frozen=True)
class FollowUpReport:
    asked: int
    closed: int


def run_due(*, now: datetime, limit: int = BATCH) -> FollowUpReport:
    """Ask every follow-up question that has fallen due, and close every report decided long
    enough ago. Adds and flushes; the clock commits. Two clocks never ask twice: the reports
    are claimed under a write lock (FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite's single
    write lock)."""
    begin_write()
    return FollowUpReport(asked=_ask_due(now, limit), closed=_close_due(now, limit))


def _ask_due(now: datetime, limit: int) -> int:
    config = current_app.config
    cutoff = now - timedelta(days=config["PORTAL_FOLLOW_UP_DAYS"])
    asked = 0
    while True:
        due = db.session.scalars(
            sa.select(Decision)
            .join(Ticket, Ticket.id == Decision.ticket_id)
            # The partial index ix_decisions_follow_up_due repeats this condition.
            .where(Decision.follow_up_asked_at.is_(None), Decision.decided_at <= cutoff)
            .order_by(Decision.decided_at, Decision.id)
            .limit(limit)
            # The ticket's row, as every other writer of a report takes it first (an erasure
            # meanwhile must not leave this e-mail behind, nor deadlock with it).
            .with_for_update(of=Ticket, skip_locked=True)
        ).all()
        for decision in due:
            # Marked whatever happens next, so that it leaves the index: a decision under
            # appeal by now, or replaced by the answer to one, is not asked about.
            decision.follow_up_asked_at = now
            if _stands(decision):
                _ask(decision, now=now)
                asked += 1
        db.session.flush()
        if len(due) < limit:
            return asked


def _stands(decision: Decision) -> bool:
    ticket = decision.ticket
    return (
        ticket.status in ANSWERABLE_STATES
        and ticket.erased_at is None
        and current_decision(ticket) is decision
    )


def _ask(decision: Decision, *, now: datetime) -> None:
    ticket = decision.ticket
    ticket.events.append(
        TicketEvent(
            kind=EventKind.FOLLOW_UP_ASKED,
            actor=Actor.SYSTEM,
            is_public=True,
            created_at=now,
            detail={"decision_id": decision.id},
        )
    )
    casework.email_reporter(
        ticket,
        "follow_up",
        now=now,
        decision=decision,
        answer_url=portal_url(f"/reports/follow-up/{signed_token(LinkPurpose.FOLLOW_UP, ticket)}"),
        link_days=current_app.config["PORTAL_FOLLOW_UP_LINK_DAYS"],
        carries_secret=True,
    )


def _close_due(now: datetime, limit: int) -> int:
    cutoff = now - timedelta(days=current_app.config["PORTAL_CLOSE_DECIDED_AFTER_DAYS"])
    closed = 0
    while True:
        due = db.session.scalars(
            sa.select(Ticket)
            .where(Ticket.status == Status.DECIDED, Ticket.decided_at <= cutoff)
            .order_by(Ticket.decided_at, Ticket.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        for ticket in due:
            transition(ticket, Status.CLOSED, now=now, actor=Actor.SYSTEM)
            closed += 1
        db.session.flush()
        if len(due) < limit:
            return closed


def question(ticket: Ticket) -> Decision | None:
    """The decision the reporter is asked about and has not answered yet, if any."""
    if ticket.status not in ANSWERABLE_STATES or ticket.erased_at is not None:
        return None
    decision = current_decision(ticket)
    if decision is None or decision.follow_up_asked_at is None or decision.follow_up_answer:
        return None
    return decision


def answer(ticket: Ticket, *, answer: FollowUpAnswer, comment: str, now: datetime) -> Decision:
    """Record the reporter's answer (once) with a public event; "yes" closes a decided report.

    Raises :class:`NoQuestion` when there is no question to answer (answered already: a
    double click, another tab). Adds and flushes; the caller commits."""
    decision = question(ticket)
    if decision is None:
        current = current_decision(ticket)
        raise NoQuestion(answered=current is not None and current.follow_up_answer is not None)
    decision.follow_up_answer = answer
    decision.follow_up_comment = comment or None
    decision.follow_up_answered_at = now
    ticket.events.append(
        TicketEvent(
            kind=EventKind.FOLLOW_UP_ANSWERED,
            actor=Actor.REPORTER,
            is_public=True,
            body=comment or None,
            created_at=now,
            detail={"decision_id": decision.id, "answer": answer.value},
        )
    )
    if answer is FollowUpAnswer.YES and ticket.status is Status.DECIDED:
        transition(ticket, Status.CLOSED, now=now, actor=Actor.REPORTER)
    db.session.flush()
    return decision
