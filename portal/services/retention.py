"""Retention: what is kept of a report once work on it has ended, and for how long.

Counted from ``Ticket.closed_at``, for reports whose work has ended (closed, withdrawn or
merged: ``status.ENDED_STATES``): their evidence files are deleted after
``PORTAL_RETENTION_ATTACHMENTS_DAYS``, and their personal data and free text erased after
``PORTAL_RETENTION_ANONYMISE_DAYS`` (``erasure.erase``; the structured labels stay for the
statistics). A report reopened by an appeal is not ended, and is never touched.

``plan`` counts what is due and ``run`` does it; both read the same conditions, so that a dry
run (``flask retention run --dry-run``) announces exactly what the real run then processes.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from portal.extensions import db
from portal.models import Actor, Attachment, Ticket
from portal.services.erasure import delete_evidence, erase
from portal.services.status import ENDED_STATES
from portal.services.writing import begin_write

# Reports loaded at a time: memory stays flat however many are due.
BATCH = 200


@dataclass(frozen=True)
class RetentionCounts:
    evidence_files: int  # evidence files past their period (deleted, or to be)
    tickets_to_anonymise: int  # reports past theirs, not erased yet (erased, or to be)


def plan(*, now: datetime) -> RetentionCounts:
    """What ``run`` would process at ``now``. Reads only."""
    evidence, anonymise = _due(now)
    return RetentionCounts(
        evidence_files=db.session.scalar(
            sa.select(sa.func.count(Attachment.id))
            .join(Ticket, Attachment.ticket_id == Ticket.id)
            .where(evidence)
        ),
        tickets_to_anonymise=db.session.scalar(
            sa.select(sa.func.count(Ticket.id)).where(anonymise)
        ),
    )


def run(*, now: datetime, dry_run: bool) -> RetentionCounts:
    """Delete the evidence files past their period, then erase the reports past theirs, and
    return what was processed (with ``dry_run``: what would be, and nothing changes).

    Adds and flushes; the caller commits, and files leave the disk only then. Two clocks never
    process one report twice: reports are claimed under a write lock (FOR UPDATE SKIP LOCKED
    on PostgreSQL, SQLite's single write lock), and what is processed no longer matches.
    """
    if dry_run:
        return plan(now=now)
    begin_write()
    evidence, anonymise = _due(now)
    has_files = sa.exists().where(Attachment.ticket_id == Ticket.id)
    files = sum(
        delete_evidence(ticket, now=now, by=Actor.SYSTEM)
        for ticket in _claim_batches(sa.and_(evidence, has_files))
    )
    anonymised = 0
    for ticket in _claim_batches(anonymise):
        erase(ticket, now=now, by=Actor.SYSTEM)
        anonymised += 1
    return RetentionCounts(evidence_files=files, tickets_to_anonymise=anonymised)


def _due(now: datetime) -> tuple[sa.ColumnElement[bool], sa.ColumnElement[bool]]:
    """The conditions on Ticket: (its evidence files are past their period, it is to be
    anonymised)."""
    config = current_app.config
    evidence_days = config["PORTAL_RETENTION_ATTACHMENTS_DAYS"]
    anonymise_days = config["PORTAL_RETENTION_ANONYMISE_DAYS"]
    # Anonymising deletes the files too: should the periods be set the other way round, the
    # files go with the anonymisation, and are counted (and deleted) as evidence first.
    evidence_cutoff = now - timedelta(days=min(evidence_days, anonymise_days))
    anonymise_cutoff = now - timedelta(days=anonymise_days)
    ended = Ticket.status.in_(ENDED_STATES)
    return (
        sa.and_(ended, Ticket.closed_at <= evidence_cutoff),
        sa.and_(ended, Ticket.closed_at <= anonymise_cutoff, Ticket.erased_at.is_(None)),
    )


def _claim_batches(condition: sa.ColumnElement[bool]):
    """The reports matching ``condition``, a batch at a time, each batch locked. Each batch is
    processed (and flushed) before the next is read, and what is processed no longer matches,
    so every query starts from the top: no OFFSET, and nothing is met twice."""
    while True:
        batch = db.session.scalars(
            sa.select(Ticket)
            .where(condition)
            .order_by(Ticket.closed_at, Ticket.id)
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        ).all()
        yield from batch
        db.session.flush()
        if len(batch) < BATCH:
            return
