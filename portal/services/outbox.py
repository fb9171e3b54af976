"""E-mail goes through the outbox: written in the request's transaction, delivered later.

Nothing is sent inside a request. ``deliver_due`` (the clock process, or ``flask outbox send``)
claims what is due, sends it over SMTP, backs off after failures and scrubs secret links once
delivered. Several senders may run at once: a claimed message is sent by one of them only.
"""

import secrets
import smtplib
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid

import sqlalchemy as sa
from flask import render_template
from flask_babel import force_locale

from portal.extensions import db
from portal.models import OutboxMessage, OutboxStatus, Ticket

MAX_ATTEMPTS = 12
SCRUBBED_BODY = "[removed after delivery: this message contained a private link]"
# How long a sender holds the messages it claimed. Another sender takes them over only after
# that (a sender that died mid-batch); the holder stops sending once CLAIM_USABLE_FRACTION of it
# has passed, so that its results are committed before the lease can be taken over.
CLAIM_LEASE = timedelta(minutes=5)
CLAIM_USABLE_FRACTION = 0.8


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

    The template's first line is the subject. Needs an app context; flushes nothing itself.
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
    """Claim the messages that are due, send them, and record the results. The caller commits.

    The claim is committed at once, in a short transaction on a connection of its own (so call
    this with no writes pending in the session), before any SMTP conversation: other senders (a
    second clock process, ``flask outbox send``) skip claimed messages, so none is sent twice. A
    claim is a lease until ``now + lease``: if this sender dies after claiming, another sends the
    messages once the lease has run out. This sender stops sending once most of the lease has
    passed, hands back what it did not try, and the caller must commit the results promptly
    (before the lease ends).

    A message that cannot be sent stays pending with a later ``next_attempt_at`` and the reason
    (the error's type only: SMTP replies can quote addresses); after ``MAX_ATTEMPTS`` it is
    marked failed, and at once if it cannot be made into a safe e-mail (an address with a line
    break). Messages that carried a secret link lose their body once delivered or given up on.
    """
    token = secrets.token_hex(16)
    stop_sending_at = time.monotonic() + lease.total_seconds() * CLAIM_USABLE_FRACTION
    _claim(token, now=now, limit=limit, lease=lease)
    due = db.session.scalars(
        sa.select(OutboxMessage)
        .where(OutboxMessage.claimed_by == token)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .execution_options(populate_existing=True)  # as claimed, whatever the session held
    ).all()
    if not due:
        return DeliveryReport(0, 0, 0)
    for message in due:
        message.claimed_by = message.claimed_until = None
    sent = failed = 0
    try:
        connection = _connect(smtp)
    except (OSError, smtplib.SMTPException) as error:
        for message in due:
            failed += _record_failure(message, error, now)
        return DeliveryReport(0, len(due) - failed, failed)
    with connection:
        for message in due:
            if time.monotonic() >= stop_sending_at:
                break  # the rest stay pending, unclaimed, for the next run
            try:
                email = _as_email(message, smtp.sender)
            except ValueError as error:
                failed += _give_up(message, error)
                continue
            try:
                connection.send_message(email)
            except (OSError, smtplib.SMTPException) as error:
                failed += _record_failure(message, error, now)
                continue
            message.status = OutboxStatus.SENT
            message.sent_at = now
            message.attempts += 1
            message.last_error = None
            if message.carries_secret:
                message.body = SCRUBBED_BODY
            sent += 1
    return DeliveryReport(sent, len(due) - sent - failed, failed)


def _claim(token: str, *, now: datetime, limit: int, lease: timedelta) -> None:
    """Mark up to ``limit`` due, unclaimed messages as this sender's, and commit that at once."""
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


def _as_email(message: OutboxMessage, sender: str) -> EmailMessage:
    """The e-mail for an outbox message; ``ValueError`` if it cannot be made safely.

    Nothing a person typed can add a header or a recipient: the subject is put on one line, and
    the address must parse as exactly itself, one address (a line break, a comma or a trailing
    ``Bcc: ...`` is refused rather than cleaned up into something else).
    """
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message.to_address  # the header policy refuses CR and LF: ValueError
    if [address.addr_spec for address in email["To"].addresses] != [message.to_address]:
        raise ValueError("the recipient is not exactly one address")
    email["Subject"] = _one_line(message.subject)
    email["Message-ID"] = make_msgid(domain="redress.invalid")
    # set_content() replaces every Content-* header, so the language goes in through it.
    email.set_content(message.body, headers=[f"Content-Language: {message.locale}"])
    return email


def _record_failure(message: OutboxMessage, error: Exception, now: datetime) -> int:
    """Count a failed attempt; return 1 if the message is now given up on, else 0."""
    if message.attempts + 1 >= MAX_ATTEMPTS:
        return _give_up(message, error)
    message.attempts += 1
    message.last_error = type(error).__name__
    message.next_attempt_at = now + retry_delay(message.attempts)
    return 0


def _give_up(message: OutboxMessage, error: Exception) -> int:
    """Count a last attempt and mark the message failed; return 1 (one more given up on)."""
    message.attempts += 1
    message.last_error = type(error).__name__
    message.status = OutboxStatus.FAILED
    if message.carries_secret:
        message.body = SCRUBBED_BODY  # never to be sent: keep no usable link at rest
    return 1
