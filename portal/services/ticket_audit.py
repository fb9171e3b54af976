"""Every ticket event goes into the audit log, whoever wrote it.

Rather than each service remembering to call ``audit.append``, the session notes the ticket
events each flush inserts and appends one audit entry per event just before the transaction
commits: the audit head's lock is then taken last and held only for the commit itself. The
entry holds what happened and to which ticket, and a keyed hash of any text, never the text
(which may name people): an edit of the text is still detectable against the log.
"""

import hashlib
import hmac

import sqlalchemy as sa
from flask import current_app

from portal.models import TicketEvent
from portal.services import audit

_PENDING = "ticket_events_to_audit"


def _note_new_events(session, _flush_context) -> None:
    # In after_flush, session.new still lists what this flush inserted.
    new_events = [obj for obj in session.new if isinstance(obj, TicketEvent)]
    if new_events:
        session.info.setdefault(_PENDING, []).extend(new_events)


def _audit_noted_events(session) -> None:
    # before_commit runs before the commit's own flush: flush now, so that every event of this
    # transaction has been noted (and has its id) before the log is written.
    session.flush()
    pending = session.info.get(_PENDING, [])
    for event in sorted(pending, key=lambda event: event.id):
        audit.append(
            actor_type=event.actor,
            actor_id=f"staff:{event.staff_id}" if event.staff_id else None,
            action=f"ticket.{event.kind.value}",
            object_type="ticket",
            object_id=event.ticket.reference,
            payload=event_payload(event),
            now=event.created_at,
            secret_key=current_app.config["SECRET_KEY"],
        )
    # Forgotten only once all are appended: if one fails, the commit fails and the caller's
    # rollback clears them; a retried commit cannot store events without their entries.
    pending.clear()


def _forget_noted_events(session, previous_transaction) -> None:
    pending = session.info.get(_PENDING)
    if not pending:
        return
    if previous_transaction.parent is None:
        pending.clear()  # the whole transaction is gone
    else:
        # A savepoint rolled back: only its events are gone; the outer ones are still to audit.
        pending[:] = [event for event in pending if sa.inspect(event).persistent]


def event_payload(event: TicketEvent) -> dict:
    return {
        "event_id": event.id,
        "public": event.is_public,
        "from_status": event.from_status.value if event.from_status else None,
        "to_status": event.to_status.value if event.to_status else None,
        "body_hmac": text_fingerprint(event.body) if event.body else None,
        "detail": event.detail,
    }


def text_fingerprint(text: str) -> str:
    """A keyed hash of text that may name people: an edit shows, and guessing a short text
    (a name, a telephone number) against the log is impossible without the key."""
    key = audit.derive_key(current_app.config["SECRET_KEY"], "redress.audit.text")
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def register_ticket_auditing(scoped_session) -> None:
    if sa.event.contains(scoped_session, "after_flush", _note_new_events):
        return  # one set of listeners for the whole process
    sa.event.listen(scoped_session, "after_flush", _note_new_events)
    sa.event.listen(scoped_session, "before_commit", _audit_noted_events)
    sa.event.listen(scoped_session, "after_soft_rollback", _forget_noted_events)
