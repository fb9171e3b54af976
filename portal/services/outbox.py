"""E-mail goes through the outbox: written in the request's transaction, delivered later.

Nothing is sent inside a request. ``deliver_due`` (``flask outbox send``; the clock process later)
sends what is due over SMTP, backs off after failures and scrubs secret links once delivered.
"""

import smtplib
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
        subject=subject.strip(),
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


def deliver_due(smtp: SmtpSettings, *, now: datetime, limit: int = 100) -> DeliveryReport:
    """Send the messages that are due. The caller commits.

    A message that cannot be sent stays pending with a later ``next_attempt_at`` and the reason
    (the error's type only: SMTP replies can quote addresses); after ``MAX_ATTEMPTS`` it is
    marked failed. Messages that carried a secret link lose their body once delivered or given
    up on.
    """
    due = db.session.scalars(
        sa.select(OutboxMessage)
        .where(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    ).all()
    sent = deferred = failed = 0
    if not due:
        return DeliveryReport(0, 0, 0)
    try:
        connection = _connect(smtp)
    except (OSError, smtplib.SMTPException) as error:
        for message in due:
            failed += _record_failure(message, error, now)
        return DeliveryReport(0, len(due) - failed, failed)
    with connection:
        for message in due:
            try:
                connection.send_message(_as_email(message, smtp.sender))
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
    deferred = len(due) - sent - failed
    return DeliveryReport(sent, deferred, failed)


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


def _as_email(message: OutboxMessage, sender: str) -> EmailMessage:
    email = EmailMessage()
    email["From"] = sender
    email["To"] = message.to_address
    email["Subject"] = message.subject
    email["Message-ID"] = make_msgid(domain="redress.invalid")
    # set_content() replaces every Content-* header, so the language goes in through it.
    email.set_content(message.body, headers=[f"Content-Language: {message.locale}"])
    return email


def _record_failure(message: OutboxMessage, error: Exception, now: datetime) -> int:
    """Count a failed attempt; return 1 if the message is now given up on, else 0."""
    message.attempts += 1
    message.last_error = type(error).__name__
    if message.attempts >= MAX_ATTEMPTS:
        message.status = OutboxStatus.FAILED
        if message.carries_secret:
            message.body = SCRUBBED_BODY  # never to be sent: keep no usable link at rest
        return 1
    message.next_attempt_at = now + retry_delay(message.attempts)
    return 0
