"""E-mail goes through the outbox: written in the request's transaction, delivered later.

Nothing is sent inside a request. ``deliver_due`` (the clock process, or ``flask outbox send``)
claims what is due, sends it over SMTP as plain text with an HTML alternative, backs off after
failures and scrubs secret links once delivered. It records each message's result as soon as its
SMTP conversation is over, so a sender that dies mid-batch sends again only the message it was
busy with. Several senders may run at once: a claimed message is sent by one of them only, and
only the sender holding the claim records its result.

Administrators see what the outbox gave up on (``failed_messages``, ``queue_counts``) and can put
a message back in the queue (``retry``), unless its secret link was scrubbed.
"""

import logging
import secrets
import smtplib
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid

import sqlalchemy as sa
from flask import render_template
from flask_babel import force_locale

from portal.extensions import db
from portal.i18n import language_tag, text_direction
from portal.models import OutboxMessage, OutboxStatus, StaffUser, Ticket
from portal.services import audit
from portal.services.errors import DomainError

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 12
SCRUBBED_BODY = "[removed after delivery: this message contained a private link]"
# How long a sender holds the messages it claimed. Another sender takes them over only after
# that (a sender that died mid-batch); the holder starts no SMTP conversation once
# CLAIM_USABLE_FRACTION of it has passed, so that it is not still sending a message when
# another sender may take it over.
CLAIM_LEASE = timedelta(minutes=5)
CLAIM_USABLE_FRACTION = 0.8

# The columns to set on one message once its attempt is over.
Result = dict[str, object]
# A claimed message as the claim read it: a row with the columns of OutboxMessage.
Claimed = sa.Row


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 10

    @classmethod
    def from_config(cls, config) -> "SmtpSettings":
        return cls(
            host=config["PORTAL_SMTP_HOST"],
            port=config["PORTAL_SMTP_PORT"],
            sender=config["PORTAL_MAIL_FROM"],
            username=config["PORTAL_SMTP_USERNAME"],
            password=config["PORTAL_SMTP_PASSWORD"],
            starttls=config["PORTAL_SMTP_STARTTLS"],
            timeout=config["PORTAL_SMTP_TIMEOUT"],
        )


@dataclass(frozen=True)
class DeliveryReport:
    sent: int
    deferred: int
    failed: int


def queue_email(
    *,
    to: str,
    template: str,
    locale: str,
    now: datetime,
    ticket: Ticket | None = None,
    carries_secret: bool = False,
    **context,
) -> OutboxMessage:
    """Render ``emails/<template>`` in the reporter's locale and add it to the outbox.

    The template's first line is the subject. Only the plain text is stored: the HTML part is
    made from it when the message is sent. Needs an app context; flushes nothing itself.
    """
    with force_locale(locale):
        rendered = render_template(f"emails/{template}.txt", ticket=ticket, **context)
    subject, _, body = rendered.strip().partition("\n")
    message = OutboxMessage(
        to_address=to,
        subject=_one_line(subject),
        body=body.strip() + "\n",
        locale=locale,
        ticket=ticket,
        carries_secret=carries_secret,
        created_at=now,
        next_attempt_at=now,
    )
    db.session.add(message)
    return message


def retry_delay(attempts: int) -> timedelta:
    """Back off exponentially from one minute, capped at six hours."""
    return min(timedelta(minutes=2 ** (attempts - 1)), timedelta(hours=6))


def deliver_due(
    smtp: SmtpSettings, *, now: datetime, limit: int = 100, lease: timedelta = CLAIM_LEASE
) -> DeliveryReport:
    """Claim the messages that are due, send them, and record each result as soon as it is known.

    Everything is read and committed here, in short transactions on connections of their own
    (so call this with no writes pending in the session); the session is not used, and holds no
    transaction open through the SMTP conversations. Copies of the messages the session already
    held are expired afterwards, so that it reads the results back, and its commit or rollback
    changes none of them.

    The claim comes first, before any SMTP conversation: other senders (a second clock process,
    ``flask outbox send``) skip claimed messages, so none is sent twice. A claim is a lease until
    ``now + lease``; each message's result (sent, retry later, failed) is recorded right after
    its SMTP conversation, releasing it, and only if this sender still holds the claim. If this
    sender dies, another sends its unrecorded messages once the lease has run out: only the
    message it was busy with can go out twice. This sender starts no SMTP conversation once most
    of the lease has passed and hands back what it did not try; should a conversation outlast
    the lease all the same and another sender take the message over, that sender's result
    stands, and this one is logged (by message id only), not stored.

    A message that cannot be sent stays pending with a later ``next_attempt_at`` and the reason
    (the error's type only: SMTP replies can quote addresses); after ``MAX_ATTEMPTS`` it is
    marked failed, and at once if it cannot be made into a safe e-mail (an address with a line
    break, or a body that was scrubbed). Messages that carried a secret link lose their body once
    delivered or given up on.
    """
    token = secrets.token_hex(16)
    stop_sending_at = time.monotonic() + lease.total_seconds() * CLAIM_USABLE_FRACTION
    due = _claim(token, now=now, limit=limit, lease=lease)
    try:
        return _send(due, smtp, token=token, now=now, stop_sending_at=stop_sending_at)
    finally:
        # The results are in the database: copies the session holds must be read again.
        for message in due:
            held = db.session.identity_map.get(db.session.identity_key(OutboxMessage, message.id))
            if held is not None:
                db.session.expire(held)


def _send(
    due: list[Claimed],
    smtp: SmtpSettings,
    *,
    token: str,
    now: datetime,
    stop_sending_at: float,
) -> DeliveryReport:
    """Send the claimed messages ``due`` over one SMTP connection, recording each result."""
    if not due:
        return DeliveryReport(0, 0, 0)
    results: list[Result] = []
    try:
        connection = _connect(smtp)
    except (OSError, smtplib.SMTPException) as error:
        results = [_failed_attempt(message, error, now) for message in due]
        _record(token, zip(due, results, strict=True))
        return _report(results, claimed=len(due))
    with connection:
        for position, message in enumerate(due):
            if time.monotonic() >= stop_sending_at:
                _hand_back(token, due[position:])  # pending, unclaimed, for the next run
                break
            result = _attempt(connection, message, smtp.sender, now)
            _record(token, [(message, result)])
            results.append(result)
    return _report(results, claimed=len(due))


def _attempt(connection: smtplib.SMTP, message: Claimed, sender: str, now: datetime) -> Result:
    """Send one message over ``connection``; the columns that say how it went."""
    try:
        email = _as_email(message, sender)
    except ValueError as error:
        return _given_up(message, error)
    try:
        connection.send_message(email)
    except (OSError, smtplib.SMTPException) as error:
        return _failed_attempt(message, error, now)
    return _delivered(message, now)


def _report(results: list[Result], *, claimed: int) -> DeliveryReport:
    """Count the results; what was claimed but neither sent nor given up on is deferred."""
    sent = sum(result["status"] is OutboxStatus.SENT for result in results)
    failed = sum(result["status"] is OutboxStatus.FAILED for result in results)
    return DeliveryReport(sent, claimed - sent - failed, failed)


def _claim(token: str, *, now: datetime, limit: int, lease: timedelta) -> list[Claimed]:
    """Mark up to ``limit`` due, unclaimed messages as this sender's, commit that at once, and
    return them as claimed, oldest due first.

    Read on the claim's own connection, not through the session: a session would keep its
    transaction (and its snapshot) open through every SMTP conversation that follows.
    """
    claimable = sa.and_(
        OutboxMessage.status == OutboxStatus.PENDING,
        OutboxMessage.next_attempt_at <= now,
        sa.or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until <= now),
    )
    oldest_first = (
        sa.select(OutboxMessage.id)
        .where(claimable)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    )
    with db.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Rows another sender is claiming at this moment are skipped, not waited for.
            ids = connection.scalars(oldest_first.with_for_update(skip_locked=True)).all()
            chosen = OutboxMessage.id.in_(ids)
        else:
            # SQLite (which ignores FOR UPDATE) has one writer at a time, and the UPDATE checks
            # ``claimable`` again under its lock: of two senders, the second finds nothing.
            chosen = OutboxMessage.id.in_(oldest_first.scalar_subquery())
        connection.execute(
            sa.update(OutboxMessage)
            .where(chosen, claimable)
            .values(claimed_by=token, claimed_until=now + lease)
        )
        return connection.execute(
            sa.select(OutboxMessage.__table__)
            .where(OutboxMessage.claimed_by == token)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        ).all()


def _record(token: str, results: Iterable[tuple[Claimed, Result]]) -> None:
    """Store results and release the messages at once, each only while ``token`` holds it."""
    with db.engine.begin() as connection:
        for message, result in results:
            stored = connection.execute(
                sa.update(OutboxMessage)
                .where(OutboxMessage.id == message.id, OutboxMessage.claimed_by == token)
                .values(claimed_by=None, claimed_until=None, **result)
            ).rowcount
            if not stored:
                # The lease ran out and another sender took the message over: its result
                # stands. Ids and statuses only in logs: never an address or a subject.
                logger.warning(
                    "outbox: message %d was taken over by another sender; this sender's result"
                    " (%s) was not recorded",
                    message.id,
                    result["status"].value,
                )


def _hand_back(token: str, messages: list[Claimed]) -> None:
    """Release messages this sender did not try, unchanged, for the next run to send."""
    with db.engine.begin() as connection:
        connection.execute(
            sa.update(OutboxMessage)
            .where(
                OutboxMessage.id.in_([message.id for message in messages]),
                OutboxMessage.claimed_by == token,
            )
            .values(claimed_by=None, claimed_until=None)
        )


def _connect(smtp: SmtpSettings) -> smtplib.SMTP:
    connection = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
    try:
        if smtp.starttls:
            connection.starttls()
        if smtp.username:
            connection.login(smtp.username, smtp.password or "")
    except BaseException:
        connection.close()
        raise
    return connection


def _one_line(text: str) -> str:
    """Header text on one line: line breaks (of any kind) and runs of spaces become one space."""
    return " ".join(text.split())


def _as_email(message: Claimed, sender: str) -> EmailMessage:
    """The e-mail for an outbox message; ``ValueError`` if it cannot be made safely.

    Nothing a person typed can add a header or a recipient: the subject is put on one line, and
    the address must parse as exactly itself, one address (a line break, a comma or a trailing
    ``Bcc: ...`` is refused rather than cleaned up into something else). A scrubbed body is
    refused too: the reporter would get a placeholder instead of their link.
    """
    if message.body == SCRUBBED_BODY:
        raise ValueError("the body was removed after an earlier delivery")
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message.to_address  # the header policy refuses CR and LF: ValueError
    if [address.addr_spec for address in email["To"].addresses] != [message.to_address]:
        raise ValueError("the recipient is not exactly one address")
    email["Subject"] = _one_line(message.subject)
    email["Message-ID"] = make_msgid(domain="redress.invalid")
    email.set_content(message.body)
    email.add_alternative(_as_html(message), subtype="html")
    # Last: making the message multipart moves every Content-* header into its first part.
    email["Content-Language"] = language_tag(message.locale)
    return email


def _as_html(message: Claimed) -> str:
    """The HTML part, made from the stored text so that every e-mail template gets one.

    The text is escaped, its paragraphs and line breaks kept and its web addresses made into
    links; the page has the recipient's language and text direction, and nothing remote.
    """
    return render_template(
        "emails/layout.html",
        subject=_one_line(message.subject),
        locale=message.locale,
        direction=text_direction(message.locale),
        paragraphs=_paragraphs(message.body),
    )


def _paragraphs(text: str) -> list[list[str]]:
    """The text's paragraphs (separated by blank lines), each as its lines."""
    paragraphs, lines = [], []
    for line in text.splitlines():
        if line.strip():
            lines.append(line.rstrip())
        elif lines:
            paragraphs.append(lines)
            lines = []
    if lines:
        paragraphs.append(lines)
    return paragraphs


def _delivered(message: Claimed, now: datetime) -> Result:
    result: Result = {
        "status": OutboxStatus.SENT,
        "sent_at": now,
        "attempts": message.attempts + 1,
        "last_error": None,
    }
    if message.carries_secret:
        result["body"] = SCRUBBED_BODY
    return result


def _failed_attempt(message: Claimed, error: Exception, now: datetime) -> Result:
    """A failed attempt: tried again after a delay, or given up on after the last attempt."""
    if message.attempts + 1 >= MAX_ATTEMPTS:
        return _given_up(message, error)
    return {
        "status": OutboxStatus.PENDING,
        "attempts": message.attempts + 1,
        "last_error": type(error).__name__,
        "next_attempt_at": now + retry_delay(message.attempts + 1),
    }


def _given_up(message: Claimed, error: Exception) -> Result:
    """A last attempt: the message is failed and never tried again unless an admin retries it."""
    result: Result = {
        "status": OutboxStatus.FAILED,
        "attempts": message.attempts + 1,
        "last_error": type(error).__name__,
    }
    if message.carries_secret:
        result["body"] = SCRUBBED_BODY  # never to be sent: keep no usable link at rest
    return result


# -- what administrators see and do -------------------------------------------------------------


@dataclass(frozen=True)
class QueueCounts:
    pending: int  # waiting to be sent
    retrying: int  # of those, tried already and failed (many: the SMTP server may be down)
    failed: int  # given up on


@dataclass(frozen=True)
class FailedMessage:
    message: OutboxMessage
    reference: str | None  # the report it concerns, if any

    @property
    def can_retry(self) -> bool:
        return not is_scrubbed(self.message)


class RetryRefused(DomainError):
    """A message that cannot be put back in the queue; ``reason`` is one of the codes below."""

    SCRUBBED = "scrubbed"  # its body, which held a private link, was removed
    ALREADY_QUEUED = "already_queued"  # pending again (retried already)
    ALREADY_SENT = "already_sent"

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def is_scrubbed(message: OutboxMessage) -> bool:
    return message.body == SCRUBBED_BODY


def queue_counts() -> QueueCounts:
    """How many messages wait to be sent, how many of those after a failure, how many failed."""
    status = OutboxMessage.status
    pending, retrying, failed = db.session.execute(
        sa.select(
            sa.func.count(sa.case((status == OutboxStatus.PENDING, 1))),
            sa.func.count(
                sa.case((sa.and_(status == OutboxStatus.PENDING, OutboxMessage.attempts > 0), 1))
            ),
            sa.func.count(sa.case((status == OutboxStatus.FAILED, 1))),
        )
    ).one()
    return QueueCounts(pending, retrying, failed)


def failed_messages(*, before: int | None = None, limit: int) -> list[FailedMessage]:
    """Up to ``limit`` messages given up on, newest first, with ids below ``before`` if given.

    Ids grow in the order messages are queued: paging by id never needs an OFFSET.
    """
    query = (
        sa.select(OutboxMessage, Ticket.reference)
        .outerjoin(Ticket, OutboxMessage.ticket_id == Ticket.id)
        .where(OutboxMessage.status == OutboxStatus.FAILED)
        .order_by(OutboxMessage.id.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(OutboxMessage.id < before)
    return [FailedMessage(message, reference) for message, reference in db.session.execute(query)]


def retry(
    message: OutboxMessage, *, staff: StaffUser, now: datetime, secret_key: str | bytes
) -> None:
    """Put a message the outbox gave up on back in the queue: due now, with no attempts counted
    and no error, and note in the audit log that ``staff`` did (ids and the error's type only).

    Raises ``RetryRefused``: ``ALREADY_SENT``, ``ALREADY_QUEUED`` (also when someone retried it
    a moment ago: two clicks queue it once), or ``SCRUBBED`` (its private link is gone; the
    reporter can ask for a new one). Flushes; the caller commits.
    """
    if message.status is OutboxStatus.SENT:
        raise RetryRefused(RetryRefused.ALREADY_SENT)
    if message.status is OutboxStatus.PENDING:
        raise RetryRefused(RetryRefused.ALREADY_QUEUED)
    if is_scrubbed(message):
        raise RetryRefused(RetryRefused.SCRUBBED)
    given_up_after, last_error = message.attempts, message.last_error
    # Conditional, so that of two administrators retrying at once, one queues it.
    requeued = db.session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id == message.id, OutboxMessage.status == OutboxStatus.FAILED)
        .values(
            status=OutboxStatus.PENDING,
            attempts=0,
            last_error=None,
            next_attempt_at=now,
            claimed_by=None,
            claimed_until=None,
        )
    ).rowcount
    if not requeued:
        raise RetryRefused(RetryRefused.ALREADY_QUEUED)
    audit.append_by_staff(
        "outbox.retried",
        staff_id=staff.id,
        object_type="outbox_message",
        object_id=message.id,
        now=now,
        secret_key=secret_key,
        ticket_id=message.ticket_id,
        given_up_after=given_up_after,
        last_error=last_error,
    )
