"""The reporter's side of a ticket: submit, follow, add information, withdraw, recover the link."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO

import sqlalchemy as sa

from portal.extensions import db
from portal.models import (
    Actor,
    Attachment,
    Category,
    EventKind,
    ReporterRole,
    Severity,
    Status,
    Ticket,
    TicketEvent,
    TicketKind,
)
from portal.services import export_text, sla, tokens
from portal.services.attachments import (
    MAX_FILES,
    StoredFile,
    delete_when_committed,
    store_uploads,
)
from portal.services.errors import AttachmentRejected, InvalidTransition
from portal.services.outbox import queue_email
from portal.services.routing import route
from portal.services.status import OPEN_STATES, transition
from portal.services.writing import lock_tickets

# Builds the absolute tracking URL for a token; views pass one based on ``url_for``.
LinkBuilder = Callable[[str], str]


@dataclass(frozen=True)
class ReportSubmission:
    """What a reporter sent, already validated by the form."""

    kind: TicketKind
    reporter_role: ReporterRole
    output_text: str
    description: str
    category: Category
    reporter_severity: Severity
    locale: str
    timezone: str
    model_id: int | None = None
    model_version_id: int | None = None
    model_not_listed: str | None = None
    output_id: str | None = None
    input_text: str | None = None
    occurred_on: date | None = None
    impact: str | None = None
    requested_outcome: str | None = None
    expected_output: str | None = None
    immediate_danger: bool = False
    consent_contact: bool = False
    consent_training: bool = False
    consent_public_stats: bool = False
    reporter_name: str | None = None
    contact_email: str | None = None


@dataclass(frozen=True)
class SubmissionResult:
    ticket: Ticket
    # None only for a retried submission whose link has since been replaced.
    tracking_token: str | None


def submit_report(
    submission: ReportSubmission,
    *,
    form_key: str,
    secret_key: str,
    now: datetime,
    tracking_link: LinkBuilder,
) -> SubmissionResult:
    """Create a ticket, or return the one this form already created.

    The same ``form_key`` always yields the same ticket and (until it is replaced) the same
    tracking token, so a double click or a retried POST never makes two reports. Evidence already
    uploaded to the form's draft is attached. When the reporter gave an e-mail address, a
    confirmation with the tracking link is added to the outbox in the same transaction.
    A concurrent duplicate can still fail the unique key on commit: the caller retries once.
    """
    existing = find_ticket_by_form_key(form_key)
    if existing is not None:
        return resubmission_result(existing, form_key=form_key, secret_key=secret_key)
    token = tokens.tracking_token_for_form(secret_key, form_key)

    ticket = Ticket(
        reference=_unused_reference(),
        status=Status.NEW,
        tracking_token_hash=tokens.sha256_hex(token),
        submission_key_hash=tokens.sha256_hex(form_key),
        created_at=now,
        updated_at=now,
        **vars(submission),
    )
    ticket.events.append(
        TicketEvent(kind=EventKind.SUBMITTED, actor=Actor.REPORTER, is_public=True, created_at=now)
    )
    if ticket.needs_safety_resources:
        ticket.severity = Severity.CRITICAL
        ticket.events.append(
            TicketEvent(
                kind=EventKind.SAFETY_FLAGGED, actor=Actor.SYSTEM, is_public=False, created_at=now
            )
        )
    export_text.prepare(ticket)  # redacted once, here, so that exports only read
    route(ticket, now=now)
    sla.recompute_deadlines(ticket)  # on the team's calendar, so once it is routed
    db.session.add(ticket)
    for attachment in draft_attachments(form_key):
        attachment.draft_key_hash = None
        ticket.attachments.append(attachment)

    if ticket.contact_email:
        queue_email(
            to=ticket.contact_email,
            template="confirmation",
            locale=ticket.locale,
            now=now,
            ticket=ticket,
            carries_secret=True,
            reference=ticket.reference,
            tracking_url=tracking_link(token),
        )
    db.session.flush()
    return SubmissionResult(ticket, tracking_token=token)


def resubmission_result(ticket: Ticket, *, form_key: str, secret_key: str) -> SubmissionResult:
    """What a form sent again gets: its ticket, and its link unless that has been replaced."""
    token = tokens.tracking_token_for_form(secret_key, form_key)
    still_valid = tokens.token_matches(token, ticket.tracking_token_hash)
    return SubmissionResult(ticket, tracking_token=token if still_valid else None)


def _unused_reference() -> str:
    while True:
        reference = tokens.new_reference()
        if db.session.scalar(sa.select(Ticket.id).where(Ticket.reference == reference)) is None:
            return reference


def draft_attachments(form_key: str) -> list[Attachment]:
    """Files uploaded with a form that has not been submitted yet, oldest first."""
    return list(
        db.session.scalars(
            sa.select(Attachment)
            .where(Attachment.draft_key_hash == tokens.sha256_hex(form_key))
            .order_by(Attachment.id)
        )
    )


def update_draft(
    form_key: str,
    *,
    remove_ids: set[int],
    uploads: Iterable[tuple[BinaryIO, str]],
    upload_dir: Path,
    now: datetime,
) -> list[AttachmentRejected]:
    """Drop the draft's files the reporter ticked for removal and add the new ones that pass.

    A draft holds at most ``MAX_FILES``; each file beyond that, or failing the checks, comes
    back as a rejection for the form to explain. Removed files leave the disk on commit.
    """
    kept = []
    for attachment in draft_attachments(form_key):
        if attachment.id in remove_ids:
            db.session.delete(attachment)
            delete_when_committed(upload_dir, attachment.storage_name)
        else:
            kept.append(attachment)
    stored, rejected = store_uploads(uploads, MAX_FILES - len(kept), upload_dir)
    key_hash = tokens.sha256_hex(form_key)
    for file in stored:
        db.session.add(Attachment(draft_key_hash=key_hash, created_at=now, **vars(file)))
    db.session.flush()
    return rejected


def find_ticket_by_form_key(form_key: str) -> Ticket | None:
    """The ticket already submitted with this form, if any."""
    key_hash = tokens.sha256_hex(form_key)
    return db.session.scalar(sa.select(Ticket).where(Ticket.submission_key_hash == key_hash))


def find_ticket_by_token(token: str) -> Ticket | None:
    """The ticket this tracking token opens, or None (also for a replaced token)."""
    token_hash = tokens.sha256_hex(token)
    ticket = db.session.scalar(sa.select(Ticket).where(Ticket.tracking_token_hash == token_hash))
    if ticket is None or not tokens.token_matches(token, ticket.tracking_token_hash):
        return None
    return ticket


def find_ticket_by_reference(reference: str) -> Ticket | None:
    canonical = tokens.normalise_reference(reference)
    if canonical is None:
        return None
    return db.session.scalar(sa.select(Ticket).where(Ticket.reference == canonical))


def add_information(
    ticket: Ticket, *, text: str | None, files: Iterable[StoredFile], now: datetime
) -> TicketEvent:
    """Record what the reporter added. A reply while we wait for them resumes the work."""
    event = TicketEvent(
        kind=EventKind.INFORMATION_ADDED,
        actor=Actor.REPORTER,
        is_public=True,
        body=text or None,
        created_at=now,
    )
    ticket.events.append(event)
    for stored in files:
        attachment = Attachment(created_at=now, **vars(stored))
        ticket.attachments.append(attachment)
        event.attachments.append(attachment)
    if ticket.status is Status.AWAITING_REPORTER:
        transition(ticket, Status.INVESTIGATING, now=now, actor=Actor.REPORTER)
    ticket.updated_at = now
    return event


def can_add_information(ticket: Ticket) -> bool:
    return ticket.status not in (Status.WITHDRAWN, Status.MERGED, Status.CLOSED)


def withdraw(ticket: Ticket, *, reason: str | None, now: datetime) -> TicketEvent:
    """Withdraw the report. Raises ``InvalidTransition`` once it is decided or closed, or under
    appeal (the state machine lets an erasure withdraw an appealed report, not the reporter:
    their appeal would be left unanswered on their page)."""
    if ticket.status not in OPEN_STATES:
        raise InvalidTransition(ticket.status, Status.WITHDRAWN)
    return transition(ticket, Status.WITHDRAWN, now=now, actor=Actor.REPORTER, body=reason or None)


def withdraw_training_consent(ticket: Ticket, *, now: datetime) -> bool:
    """Stop using the report to improve AI models: it leaves later exports, whose tombstones
    tell whoever received it before to delete it. False (and nothing recorded) when the
    reporter had not agreed, or has taken it back already."""
    if not ticket.consent_training:
        return False
    ticket.consent_training = False
    ticket.training_consent_withdrawn_at = now
    ticket.events.append(
        TicketEvent(
            kind=EventKind.CONSENT_WITHDRAWN, actor=Actor.REPORTER, is_public=True, created_at=now
        )
    )
    return True


def reissue_tracking_link(
    reference: str, email: str, *, now: datetime, tracking_link: LinkBuilder
) -> None:
    """If ``reference`` and ``email`` belong together, replace the link and e-mail the new one.

    Returns nothing either way: the caller must not be able to tell whether they matched.
    The old link, and every browser that opened it, stop working.
    """
    ticket = find_ticket_by_reference(reference)
    if ticket is None or not ticket.contact_email:
        return
    if ticket.contact_email.casefold() != email.strip().casefold():
        return
    lock_tickets(ticket)
    token = tokens.new_tracking_token()
    ticket.tracking_token_hash = tokens.sha256_hex(token)
    ticket.tracking_version += 1
    ticket.events.append(
        TicketEvent(
            kind=EventKind.LINK_REISSUED, actor=Actor.SYSTEM, is_public=True, created_at=now
        )
    )
    queue_email(
        to=ticket.contact_email,
        template="new_link",
        locale=ticket.locale,
        now=now,
        ticket=ticket,
        carries_secret=True,
        reference=ticket.reference,
        tracking_url=tracking_link(token),
    )
