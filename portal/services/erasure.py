"""Erasing a reporter's personal data and free text: at their request, or by retention.

What goes: the reporter's name and address, everything they wrote (the output, the prompt, the
description and the other answers, their messages, their appeal), what staff wrote about the
report (replies, questions and internal notes often quote the reporter; the free text of the
decisions), every e-mail of the report (sent or not: each holds the address and text), and the
evidence files. What stays, for the statistics: the reference, kind, category, severities,
model and version, locale and time zone, consent flags, dates, the status history and the
structured parts of the decisions (outcome, remedies, automated means, policy clause, appeal
result, follow-up answer).

The audit log is left as it is (it is append-only, and triggers refuse any change): it never
held the text, only keyed fingerprints of it (``ticket_audit.text_fingerprint``), ids and enum
values, so it verifies as before and gives nothing away.
"""

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
    OutboxMessage,
    Status,
    Ticket,
    TicketEvent,
)
from portal.services import export_text, tokens
from portal.services.attachments import delete_when_committed, upload_dir
from portal.services.links import LinkPurpose, portal_url, signed_token
from portal.services.outbox import queue_email
from portal.services.status import OPEN_STATES, transition


def request_erasure(ticket: Ticket, *, now: datetime) -> bool:
    """Ask the reporter to confirm an erasure by e-mail, when the report has an address.

    Whoever holds the tracking link may be someone the reporter shared it with: with an address
    on the report, only a link sent there erases. Returns True when that e-mail was queued
    (with a public ``ERASURE_REQUESTED`` event). Returns False, recording and queuing nothing,
    when there is no address: the caller then erases at once, and the ``ERASED`` event alone
    tells the story (a request followed in the same moment by its erasure says nothing more).
    Adds and flushes; the caller commits.
    """
    if not ticket.contact_email:
        return False
    if _recently_requested(ticket, now=now):
        return True  # the link sent then still works: no second e-mail (a refresh, a flood)
    ticket.events.append(
        TicketEvent(
            kind=EventKind.ERASURE_REQUESTED,
            actor=Actor.REPORTER,
            is_public=True,
            created_at=now,
        )
    )
    # Sent whatever the reporter said about being contacted: they asked for this one.
    queue_email(
        to=ticket.contact_email,
        template="confirm_erasure",
        locale=ticket.locale,
        now=now,
        ticket=ticket,
        # The link erases the report: scrubbed from the outbox once delivered.
        carries_secret=True,
        reference=ticket.reference,
        confirm_url=portal_url("/reports/erase/" + signed_token(LinkPurpose.ERASURE, ticket)),
        link_hours=current_app.config["PORTAL_ERASURE_LINK_HOURS"],
    )
    db.session.flush()
    return True


def _recently_requested(ticket: Ticket, *, now: datetime) -> bool:
    hours = timedelta(hours=current_app.config["PORTAL_ERASURE_LINK_HOURS"])
    return any(
        event.kind is EventKind.ERASURE_REQUESTED and event.created_at > now - hours
        for event in ticket.events
    )


def erase(ticket: Ticket, *, now: datetime, by: Actor) -> int:
    """Erase the report's personal data and free text (see the module's docstring), and
    return how many evidence files go (they leave the disk once the caller commits).

    A report still being worked on (open, or under appeal) is withdrawn first, so that its
    work and its clocks stop. Every link to it dies: the tracking link is replaced by one
    nobody holds, and its version moves on (the signed e-mail links name the old one). An
    erased report is left alone: 0, and no second event. Adds and flushes; the caller commits.
    """
    if ticket.erased_at is not None:
        return 0
    if ticket.status in OPEN_STATES or ticket.status is Status.APPEALED:
        transition(ticket, Status.WITHDRAWN, now=now, actor=by)
    files = _delete_attachments(ticket)

    ticket.reporter_name = None
    ticket.contact_email = None
    ticket.consent_contact = False  # nobody left to contact
    ticket.output_text = ""  # NOT NULL columns
    ticket.description = ""
    ticket.input_text = None
    ticket.impact = None
    ticket.requested_outcome = None
    ticket.expected_output = None
    ticket.model_not_listed = None
    ticket.output_id = None
    ticket.occurred_on = None
    # The export-ready copies of that text, made from the blanks (and so as blank).
    export_text.prepare(ticket)
    # Staff quote the reporter in replies, questions and notes alike: every body goes.
    db.session.execute(
        sa.update(TicketEvent).where(TicketEvent.ticket_id == ticket.id).values(body=None)
    )
    db.session.execute(sa.update(Appeal).where(Appeal.ticket_id == ticket.id).values(reason=""))
    db.session.execute(
        sa.update(Decision)
        .where(Decision.ticket_id == ticket.id)
        .values(facts="", measure="", remedy_details=None, follow_up_comment=None)
    )
    db.session.execute(sa.delete(OutboxMessage).where(OutboxMessage.ticket_id == ticket.id))

    ticket.tracking_token_hash = tokens.sha256_hex(tokens.new_tracking_token())
    ticket.tracking_version += 1
    ticket.erased_at = now
    ticket.updated_at = now
    ticket.events.append(
        TicketEvent(
            kind=EventKind.ERASED,
            actor=by,
            is_public=False,
            created_at=now,
            detail={"files": files},  # a count: the audit log copies the detail as it is
        )
    )
    db.session.flush()
    return files


def delete_evidence(ticket: Ticket, *, now: datetime, by: Actor) -> int:
    """Delete the report's evidence files (rows now, files once the caller commits) and record
    how many with an internal ``ATTACHMENTS_DELETED`` event; the rest of the report stays.
    Returns the number deleted: 0, and no event, when it had none. Adds and flushes."""
    files = _delete_attachments(ticket)
    if files:
        ticket.events.append(
            TicketEvent(
                kind=EventKind.ATTACHMENTS_DELETED,
                actor=by,
                is_public=False,
                created_at=now,
                detail={"files": files},
            )
        )
        db.session.flush()
    return files


def _delete_attachments(ticket: Ticket) -> int:
    attachments = db.session.scalars(
        sa.select(Attachment).where(Attachment.ticket_id == ticket.id)
    ).all()
    if not attachments:
        return 0
    folder = upload_dir()
    holders = [ticket, *{attachment.event for attachment in attachments if attachment.event}]
    for attachment in attachments:
        db.session.delete(attachment)
        delete_when_committed(folder, attachment.storage_name)
    db.session.flush()
    # The collections that held them would list them until read again.
    for holder in holders:
        db.session.expire(holder, ["attachments"])
    return len(attachments)
