"""E-mail leaves through the outbox: delivered over real SMTP, retried with back-off when the
server is down, never lost, and stripped of secret links once delivered."""

import contextlib
import socket
from dataclasses import dataclass
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from portal.clock import utcnow
from portal.extensions import db
from portal.models import OutboxMessage, OutboxStatus
from portal.services.outbox import MAX_ATTEMPTS, SCRUBBED_BODY, SmtpSettings, deliver_due
from tests.factories import make_ticket

EMAIL = "reporter@example.org"


@dataclass(frozen=True)
class ReceivedMail:
    envelope_to: list[str]
    message: EmailMessage

    @property
    def body(self) -> str:
        return self.message.get_content()


class Mailbox:
    """An aiosmtpd handler that keeps what it receives."""

    def __init__(self):
        self.received: list[ReceivedMail] = []

    async def handle_DATA(self, server, session, envelope):
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.received.append(ReceivedMail(list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def smtp_server(port: int):
    """A real SMTP server on 127.0.0.1:``port`` for the duration of the block."""
    mailbox = Mailbox()
    controller = Controller(
        mailbox, hostname="127.0.0.1", port=port, server_hostname="smtp.redress.test"
    )
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()


@pytest.fixture
def smtp_port() -> int:
    """The port the app sends mail to; nothing listens there unless a test starts a server."""
    return free_port()


@pytest.fixture
def app_config(app_config, smtp_port):
    app_config.update(
        PORTAL_SMTP_HOST="127.0.0.1", PORTAL_SMTP_PORT=smtp_port, PORTAL_SMTP_TIMEOUT=5
    )
    return app_config


@pytest.fixture
def mail_server(smtp_port):
    with smtp_server(smtp_port) as mailbox:
        yield mailbox


def queue_confirmation(app, *, now=None, **overrides) -> tuple[str, str]:
    """Submit a report with an e-mail address, which queues its confirmation: (reference, token)."""
    with app.app_context():
        ticket, token = make_ticket(app, contact_email=EMAIL, now=now, **overrides)
        db.session.commit()
        return ticket.reference, token


def deliver(app, now):
    with app.app_context():
        report = deliver_due(SmtpSettings.from_config(app.config), now=now)
        db.session.commit()
        return report


def everything_stored(app) -> str:
    """Every value in every table, as one string to search."""
    with app.app_context():
        return "\n".join(
            repr(tuple(row))
            for table in db.metadata.sorted_tables
            for row in db.session.execute(sa.select(table))
        )


def the_message(app) -> OutboxMessage:
    with app.app_context():
        return db.session.scalars(sa.select(OutboxMessage)).one()


def test_a_confirmation_is_delivered_with_its_tracking_link(app, mail_server):
    reference, token = queue_confirmation(app)

    report = deliver(app, utcnow())

    assert (report.sent, report.deferred, report.failed) == (1, 0, 0)
    [mail] = mail_server.received
    assert mail.envelope_to == [EMAIL]
    assert mail.message["To"] == EMAIL
    assert mail.message["Subject"] == f"We received your report {reference}"
    assert f"https://redress.test/reports/track/{token}" in mail.body
    message = the_message(app)
    assert message.status is OutboxStatus.SENT
    assert message.sent_at is not None


def test_a_delivered_secret_link_is_removed_from_the_database(app, mail_server):
    _reference, token = queue_confirmation(app)
    assert token in everything_stored(app)

    deliver(app, utcnow())

    assert the_message(app).body == SCRUBBED_BODY
    assert token not in everything_stored(app)


def test_the_outbox_send_command_delivers_what_is_due(app, mail_server):
    reference, token = queue_confirmation(app)

    result = app.test_cli_runner().invoke(args=["outbox", "send"])

    assert result.exit_code == 0, result.output
    assert "sent 1, will retry 0, gave up on 0" in result.output
    [mail] = mail_server.received
    assert mail.message["Subject"] == f"We received your report {reference}"
    assert token in mail.body
    assert the_message(app).status is OutboxStatus.SENT


def test_mail_is_kept_and_retried_with_back_off_while_the_server_is_down(app, smtp_port):
    start = utcnow()
    _reference, token = queue_confirmation(app, now=start)

    deliver(app, start)

    first_failure = the_message(app)
    assert first_failure.status is OutboxStatus.PENDING
    assert first_failure.attempts == 1
    assert first_failure.last_error == "ConnectionRefusedError"
    assert first_failure.next_attempt_at == start + timedelta(minutes=1)
    assert token in first_failure.body

    # Not due yet: nothing is tried.
    deliver(app, start + timedelta(seconds=30))
    assert the_message(app).attempts == 1

    deliver(app, first_failure.next_attempt_at)
    second_failure = the_message(app)
    assert second_failure.attempts == 2
    assert second_failure.next_attempt_at == first_failure.next_attempt_at + timedelta(minutes=2)

    with smtp_server(smtp_port) as mailbox:
        deliver(app, second_failure.next_attempt_at)

    assert len(mailbox.received) == 1
    assert token in mailbox.received[0].body
    delivered = the_message(app)
    assert delivered.status is OutboxStatus.SENT
    assert delivered.attempts == 3
    assert delivered.last_error is None


def test_mail_is_given_up_on_after_the_last_attempt(app):
    now = utcnow()
    queue_confirmation(app, now=now)

    for _attempt in range(MAX_ATTEMPTS - 1):
        deliver(app, now)
        message = the_message(app)
        assert message.status is OutboxStatus.PENDING
        assert message.next_attempt_at > now
        now = message.next_attempt_at
    report = deliver(app, now)

    assert report.failed == 1
    message = the_message(app)
    assert message.status is OutboxStatus.FAILED
    assert message.attempts == MAX_ATTEMPTS


def test_a_message_that_is_not_due_yet_is_not_sent(app, mail_server):
    later = utcnow() + timedelta(hours=1)
    queue_confirmation(app, now=later)

    report = deliver(app, utcnow())

    assert (report.sent, report.deferred, report.failed) == (0, 0, 0)
    assert mail_server.received == []
    assert the_message(app).status is OutboxStatus.PENDING
    assert the_message(app).attempts == 0

    deliver(app, later)
    assert len(mail_server.received) == 1


def test_a_french_reporter_gets_the_email_in_french(app, mail_server):
    reference, token = queue_confirmation(app, locale="fr", timezone="Europe/Paris")

    deliver(app, utcnow())

    [mail] = mail_server.received
    assert mail.message["Subject"] == f"Nous avons bien reçu votre signalement {reference}"
    assert mail.message["Content-Language"] == "fr"
    assert f"Merci pour votre signalement. Votre référence est {reference}." in mail.body
    assert "Votre lien de suivi privé" in mail.body
    assert "(Europe/Paris)" in mail.body
    assert token in mail.body
