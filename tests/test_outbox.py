"""E-mail leaves through the outbox: delivered over real SMTP as plain text and HTML in the
reader's language, retried with back-off when the server is down, never lost, never sent twice by
two senders at once (nor again after a sender dies with its results recorded), never given a
header that someone typed, and stripped of secret links once delivered."""

import contextlib
import logging
import socket
import threading
from dataclasses import dataclass
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from portal.clock import utcnow
from portal.extensions import db
from portal.models import OutboxMessage, OutboxStatus
from portal.services.outbox import (
    CLAIM_LEASE,
    MAX_ATTEMPTS,
    SCRUBBED_BODY,
    DeliveryReport,
    SmtpSettings,
    deliver_due,
    queue_email,
)
from tests.factories import make_ticket

EMAIL = "reporter@example.org"


@dataclass(frozen=True)
class ReceivedMail:
    envelope_to: list[str]
    message: EmailMessage

    @property
    def body(self) -> str:
        """The plain text part, with its line ends as a mail program shows them."""
        return self.message.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")

    @property
    def html(self) -> "HtmlPart":
        part = self.message.get_body(preferencelist=("html",)).get_content()
        return HtmlPart(part.replace("\r\n", "\n"))


class HtmlPart(HTMLParser):
    """What a mail program shows of an HTML part: its language, paragraphs and links."""

    def __init__(self, source: str):
        super().__init__()
        self.source = source
        self.html_attributes: dict[str, str | None] = {}
        self.paragraphs: list[str] = []  # their text, a line break as "\n"
        self.links: list[tuple[str | None, str]] = []  # (href, text)
        self.tags: set[str] = set()
        self._paragraph: list[str] | None = None
        self._link: tuple[str | None, list[str]] | None = None
        self.feed(source)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        if tag == "html":
            self.html_attributes = dict(attrs)
        elif tag == "p":
            self._paragraph = []
        elif tag == "br" and self._paragraph is not None:
            self._paragraph.append("\n")
        elif tag == "a":
            self._link = (dict(attrs).get("href"), [])

    def handle_endtag(self, tag):
        if tag == "p" and self._paragraph is not None:
            self.paragraphs.append("".join(self._paragraph))
            self._paragraph = None
        elif tag == "a" and self._link is not None:
            href, text = self._link
            self.links.append((href, "".join(text)))
            self._link = None

    def handle_data(self, data):
        if self._paragraph is not None:
            self._paragraph.append(data.replace("\n", ""))  # source layout, not a line break
        if self._link is not None:
            self._link[1].append(data)


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
def smtp_server(port: int, mailbox: Mailbox | None = None):
    """A real SMTP server on 127.0.0.1:``port`` for the duration of the block."""
    mailbox = mailbox or Mailbox()
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


# -- plain text and HTML -------------------------------------------------------------------------


@pytest.mark.parametrize(("locale", "direction"), [("fr", "ltr"), ("ar", "rtl")])
def test_an_email_comes_as_plain_text_and_html_in_the_readers_language(
    app, mail_server, locale, direction
):
    _reference, token = queue_confirmation(app, locale=locale, timezone="Europe/Paris")

    deliver(app, utcnow())

    [mail] = mail_server.received
    assert mail.message.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in mail.message.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    assert mail.message["Content-Language"] == locale
    html = mail.html
    assert html.html_attributes == {"lang": locale, "dir": direction}
    # The same paragraphs and line breaks as the plain text, and the link can be clicked.
    text_paragraphs = [paragraph.strip() for paragraph in mail.body.strip().split("\n\n")]
    assert html.paragraphs == text_paragraphs
    tracking_url = f"https://redress.test/reports/track/{token}"
    assert (tracking_url, tracking_url) in html.links
    assert {"img", "link", "script", "style", "iframe"}.isdisjoint(html.tags)


def test_what_a_person_typed_arrives_escaped_in_the_html_part(app, mail_server):
    typed = (
        "Hello <script>alert('x')</script> & <b>bye</b>\n"
        "See https://example.org/help?a=1&b=2\n\n"
        'Second paragraph <img src="https://tracker.example/pixel.gif">'
    )
    with app.app_context():
        queue_email(
            to=EMAIL,
            template="reply",
            locale="en",
            now=utcnow(),
            reference="RP-1",
            text=typed,
            lost_link_url="https://redress.test/reports/lost-link",
        )
        db.session.commit()

    deliver(app, utcnow())

    [mail] = mail_server.received
    assert typed in mail.body
    html = mail.html
    assert "&lt;script&gt;" in html.source
    assert {"script", "b", "img"}.isdisjoint(html.tags)
    first, second = typed.split("\n\n")
    assert first in html.paragraphs
    assert second in html.paragraphs
    assert ("https://example.org/help?a=1&b=2", "https://example.org/help?a=1&b=2") in html.links


def test_a_scrubbed_body_is_never_sent(app, mail_server):
    add_messages(app, 1, body=SCRUBBED_BODY, carries_secret=True)

    report = deliver(app, utcnow())

    assert (report.sent, report.deferred, report.failed) == (0, 0, 1)
    assert mail_server.received == []
    assert the_message(app).status is OutboxStatus.FAILED


# -- several senders at once ---------------------------------------------------------------------


def add_messages(app, count: int, *, now=None, **fields) -> list[int]:
    """``count`` pending messages to person<i>@example.org with subject "Message <i>": ids."""
    now = now or utcnow()
    with app.app_context():
        messages = [
            OutboxMessage(
                **{
                    "to_address": f"person{i}@example.org",
                    "subject": f"Message {i}",
                    "body": f"Body {i}\n",
                    "locale": "en",
                    "created_at": now,
                    "next_attempt_at": now,
                    **fields,
                }
            )
            for i in range(count)
        ]
        db.session.add_all(messages)
        db.session.commit()
        return [message.id for message in messages]


def received_subjects(mailbox: Mailbox) -> list[str]:
    return sorted(mail.message["Subject"] for mail in mailbox.received)


def test_two_senders_at_once_send_each_message_exactly_once(app, mail_server):
    count = 40
    add_messages(app, count)
    start = threading.Barrier(2)
    reports: list[DeliveryReport] = []
    errors: list[BaseException] = []

    def sender():
        try:
            start.wait(timeout=10)
            while True:
                # Small batches, so that the two senders' claims interleave.
                with app.app_context():
                    report = deliver_due(
                        SmtpSettings.from_config(app.config), now=utcnow(), limit=3
                    )
                    db.session.commit()
                reports.append(report)
                if report == DeliveryReport(0, 0, 0):
                    return
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert not any(thread.is_alive() for thread in threads)
    assert received_subjects(mail_server) == sorted(f"Message {i}" for i in range(count))
    assert sum(report.sent for report in reports) == count
    with app.app_context():
        statuses = db.session.scalars(sa.select(OutboxMessage.status)).all()
        unclaimed = db.session.scalars(
            sa.select(OutboxMessage.id).where(OutboxMessage.claimed_by.is_not(None))
        ).all()
    assert set(statuses) == {OutboxStatus.SENT}
    assert unclaimed == []


def test_a_sender_skips_messages_another_sender_is_claiming_without_waiting(
    app, mail_server, is_postgres
):
    first, *others = add_messages(app, 3)

    reports = []
    with app.app_context(), db.engine.connect() as other_sender:
        if is_postgres:
            # Another sender is in the middle of claiming the first message: its row is locked
            # (FOR UPDATE SKIP LOCKED passes over it).
            other_sender.execute(
                sa.select(OutboxMessage.id).where(OutboxMessage.id == first).with_for_update()
            )
        else:
            # SQLite has one writer at a time, so another sender's claim is a committed lease.
            other_sender.execute(
                sa.update(OutboxMessage)
                .where(OutboxMessage.id == first)
                .values(claimed_by="another sender", claimed_until=utcnow() + CLAIM_LEASE)
            )
            other_sender.commit()
        this_sender = threading.Thread(target=lambda: reports.append(deliver(app, utcnow())))
        this_sender.start()
        this_sender.join(timeout=10)
        waited = this_sender.is_alive()
        other_sender.rollback()
        this_sender.join()

    assert not waited
    [report] = reports
    assert report.sent == len(others)
    assert received_subjects(mail_server) == ["Message 1", "Message 2"]
    with app.app_context():
        assert db.session.get(OutboxMessage, first).status is OutboxStatus.PENDING


def test_a_message_claimed_by_a_sender_that_died_is_sent_once_its_lease_runs_out(app, smtp_port):
    start = utcnow()
    [message_id] = add_messages(app, 1, now=start)
    # A sender claimed the message, then died in the middle of its SMTP conversation: its lease
    # is all it left behind.
    with app.app_context():
        db.session.execute(
            sa.update(OutboxMessage).values(
                claimed_by="a sender that died", claimed_until=start + CLAIM_LEASE
            )
        )
        db.session.commit()

    with smtp_server(smtp_port) as mailbox:
        while_held = deliver(app, start + CLAIM_LEASE - timedelta(seconds=1))
        assert mailbox.received == []
        after_lease = deliver(app, start + CLAIM_LEASE)

    assert (while_held.sent, after_lease.sent) == (0, 1)
    assert received_subjects(mailbox) == ["Message 0"]
    delivered = the_message(app)
    assert delivered.id == message_id
    assert delivered.status is OutboxStatus.SENT
    assert (delivered.claimed_by, delivered.claimed_until) == (None, None)


def test_a_sender_whose_lease_is_nearly_over_sends_nothing_more_and_hands_the_rest_back(
    app, mail_server
):
    add_messages(app, 2)

    with app.app_context():
        report = deliver_due(SmtpSettings.from_config(app.config), now=utcnow(), lease=timedelta(0))
        db.session.commit()

    assert (report.sent, report.deferred, report.failed) == (0, 2, 0)
    assert mail_server.received == []
    with app.app_context():
        messages = db.session.scalars(sa.select(OutboxMessage)).all()
    assert {(m.status, m.attempts, m.claimed_by) for m in messages} == {
        (OutboxStatus.PENDING, 0, None)
    }
    assert deliver(app, utcnow()).sent == 2


# -- results recorded one by one, by the claim holder --------------------------------------------


def outbox_rows(app) -> dict[str, tuple[OutboxStatus, object]]:
    """Each message's status and claim expiry, by subject, as committed in the database."""
    with app.app_context():
        rows = db.session.execute(
            sa.select(OutboxMessage.subject, OutboxMessage.status, OutboxMessage.claimed_until)
        )
        return {subject: (status, claimed_until) for subject, status, claimed_until in rows}


class ServerThatHangsUp(Mailbox):
    """Accepts ``accepted`` messages; at the next one it notes what the database holds and
    answers that it is closing down (the client hangs up: the rest cannot be sent)."""

    def __init__(self, app, accepted: int):
        super().__init__()
        self.app = app
        self.accepted = accepted
        self.database_while_sending = None

    async def handle_DATA(self, server, session, envelope):
        if len(self.received) < self.accepted:
            return await super().handle_DATA(server, session, envelope)
        self.database_while_sending = outbox_rows(self.app)
        return "421 Closing down"


def test_results_already_recorded_survive_a_sender_that_dies_before_its_caller_commits(
    app, smtp_port
):
    start = utcnow()
    add_messages(app, 5, now=start)
    hangs_up = ServerThatHangsUp(app, accepted=2)

    with smtp_server(smtp_port, hangs_up), app.app_context():
        report = deliver_due(SmtpSettings.from_config(app.config), now=start)
        db.session.rollback()  # the caller dies before committing

    assert (report.sent, report.deferred, report.failed) == (2, 3, 0)
    assert received_subjects(hangs_up) == ["Message 0", "Message 1"]
    # While the third message was being sent, the first two were already recorded.
    claimed = (OutboxStatus.PENDING, start + CLAIM_LEASE)
    assert hangs_up.database_while_sending == {
        "Message 0": (OutboxStatus.SENT, None),
        "Message 1": (OutboxStatus.SENT, None),
        "Message 2": claimed,
        "Message 3": claimed,
        "Message 4": claimed,
    }
    assert outbox_rows(app)["Message 0"] == (OutboxStatus.SENT, None)

    # However late the next sender comes, it sends what was not delivered, and only that.
    with smtp_server(smtp_port) as mailbox:
        later = deliver(app, start + CLAIM_LEASE)

    assert later.sent == 3
    assert received_subjects(mailbox) == ["Message 2", "Message 3", "Message 4"]


class ServerWhileAnotherSenderTakesOver(Mailbox):
    """While the first message is being sent, another sender takes it over (as if this sender's
    lease had run out meanwhile)."""

    def __init__(self, app):
        super().__init__()
        self.app = app

    async def handle_DATA(self, server, session, envelope):
        if not self.received:
            with self.app.app_context():
                db.session.execute(
                    sa.update(OutboxMessage)
                    .where(OutboxMessage.subject == "Message 0")
                    .values(claimed_by="another sender")
                )
                db.session.commit()
        return await super().handle_DATA(server, session, envelope)


def test_a_result_is_recorded_only_while_the_sender_still_holds_the_message(app, smtp_port, caplog):
    first, second = add_messages(app, 2)
    mailbox = ServerWhileAnotherSenderTakesOver(app)

    with smtp_server(smtp_port, mailbox), caplog.at_level(logging.WARNING):
        report = deliver(app, utcnow())

    assert report.sent == 2
    assert received_subjects(mailbox) == ["Message 0", "Message 1"]
    with app.app_context():
        taken_over = db.session.get(OutboxMessage, first)
        assert (taken_over.status, taken_over.attempts, taken_over.claimed_by) == (
            OutboxStatus.PENDING,
            0,
            "another sender",
        )
        assert db.session.get(OutboxMessage, second).status is OutboxStatus.SENT
    [warning] = [record.getMessage() for record in caplog.records if "outbox" in record.name]
    assert f"message {first} was taken over" in warning
    assert "@" not in warning
    assert "Message 0" not in warning


def test_a_caller_that_held_a_message_reads_the_result_and_its_commit_keeps_it(app, mail_server):
    [message_id] = add_messages(app, 1)

    with app.app_context():
        held = db.session.get(OutboxMessage, message_id)
        assert held.status is OutboxStatus.PENDING
        report = deliver_due(SmtpSettings.from_config(app.config), now=utcnow())
        assert (report.sent, held.status, held.sent_at is not None) == (1, OutboxStatus.SENT, True)
        db.session.commit()

    assert the_message(app).status is OutboxStatus.SENT
    assert len(mail_server.received) == 1


# -- headers built safely ------------------------------------------------------------------------


def test_a_line_break_in_the_subject_never_makes_another_header(app, mail_server):
    add_messages(app, 1, subject="Hello\r\nBcc: attacker@evil.example\nX-Injected: yes")

    report = deliver(app, utcnow())

    assert report.sent == 1
    [mail] = mail_server.received
    assert mail.envelope_to == ["person0@example.org"]
    assert mail.message.get_all("Subject") == ["Hello Bcc: attacker@evil.example X-Injected: yes"]
    assert mail.message["Bcc"] is None
    assert mail.message["X-Injected"] is None


@pytest.mark.parametrize(
    "address",
    [
        "reporter@example.org\r\nBcc: attacker@evil.example",
        "reporter@example.org\nBcc: attacker@evil.example",
        "reporter@example.org Bcc: attacker@evil.example",
        "reporter@example.org, attacker@evil.example",
        "",
    ],
    ids=["crlf", "lf", "trailing-header", "two-addresses", "empty"],
)
def test_an_address_that_is_not_exactly_one_address_is_never_sent_to(app, mail_server, address):
    add_messages(app, 1, to_address=address, carries_secret=True)

    report = deliver(app, utcnow())

    assert (report.sent, report.deferred, report.failed) == (0, 0, 1)
    assert mail_server.received == []
    message = the_message(app)
    assert message.status is OutboxStatus.FAILED  # no retry can make it safe
    assert message.last_error == "ValueError"
    assert message.body == SCRUBBED_BODY


def test_a_queued_subject_is_kept_on_one_line(app):
    with app.app_context():
        message = queue_email(
            to=EMAIL,
            template="new_link",
            locale="en",
            now=utcnow(),
            reference="RP-1\rBcc: attacker@evil.example\u2028X: y",
            tracking_url="https://redress.test/reports/track/x",
        )

        assert message.subject == (
            "Your new tracking link for report RP-1 Bcc: attacker@evil.example X: y"
        )
