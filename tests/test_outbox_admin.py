"""Undelivered e-mail, for administrators: what the outbox gave up on and how much is waiting,
and a retry that a real SMTP server then receives, once, with an audit entry naming the admin
and never the address. A message whose private link was scrubbed is never sent again."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.clock import utcnow
from portal.extensions import db
from portal.models import AuditEntry, OutboxMessage, OutboxStatus, Role
from portal.services.outbox import MAX_ATTEMPTS, SCRUBBED_BODY, SmtpSettings, deliver_due
from portal.views.outbox import PAGE_SIZE
from tests.conftest import CSRF_PATTERN, hidden_value
from tests.factories import make_staff, make_ticket
from tests.signing_in import sign_in
from tests.test_outbox import free_port, smtp_server

PAGE = "/staff/admin/outbox"
ADMIN_EMAIL = "admin@example.org"
REPORTER_EMAIL = "reporter@example.org"


@pytest.fixture
def smtp_port() -> int:
    """The port the app sends mail to; nothing listens there unless a test starts a server."""
    return free_port()


@pytest.fixture
def app_config(app_config, smtp_port):
    app_config.update(
        PORTAL_SMTP_HOST="127.0.0.1",
        PORTAL_SMTP_PORT=smtp_port,
        PORTAL_SMTP_TIMEOUT=5,
        # The second factor has tests of its own; here it would only add steps.
        PORTAL_TOTP_REQUIRED_FOR_ADMINS=False,
    )
    return app_config


def signed_in(app, email: str, roles, **staff):
    client = app.test_client()
    client.user_id = make_staff(app, email=email, roles=roles, **staff)
    assert sign_in(client, email=email).status_code == 303
    return client


@pytest.fixture
def admin(app):
    return signed_in(app, ADMIN_EMAIL, (Role.ADMIN,), name="Ann Admin")


def deliver(app):
    with app.app_context():
        report = deliver_due(SmtpSettings.from_config(app.config), now=utcnow())
        db.session.commit()
        return report


def given_up_on(app, *, carries_secret: bool = False) -> tuple[int, str]:
    """A report's confirmation that the outbox gave up on, the mail server having been down
    for every attempt: (message id, report reference)."""
    with app.app_context():
        ticket, _token = make_ticket(app, contact_email=REPORTER_EMAIL)
        message = db.session.scalars(sa.select(OutboxMessage)).one()
        message.carries_secret = carries_secret
        message.attempts = MAX_ATTEMPTS - 1  # the earlier attempts, to save eleven runs
        db.session.commit()
        message_id, reference = message.id, ticket.reference
    assert deliver(app).failed == 1  # nothing listens on the port
    return message_id, reference


def stored(app, message_id: int) -> OutboxMessage:
    with app.app_context():
        return db.session.get(OutboxMessage, message_id)


def retry(client, message_id: int):
    """Press the message's Retry button (with a form token from the list)."""
    token = hidden_value(client.get(PAGE).get_data(as_text=True), CSRF_PATTERN)
    return client.post(f"{PAGE}/{message_id}/retry", data={"csrf_token": token})


def retried_entries(app) -> list[AuditEntry]:
    with app.app_context():
        return list(
            db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "outbox.retried"))
        )


def add_pending(app, *, attempts: int) -> None:
    with app.app_context():
        db.session.add(
            OutboxMessage(
                to_address="someone@example.org",
                subject="Waiting",
                body="Waiting\n",
                locale="en",
                attempts=attempts,
            )
        )
        db.session.commit()


# -- the list -----------------------------------------------------------------------------------


def test_an_admin_sees_what_was_given_up_on_and_how_much_is_waiting(app, admin):
    message_id, reference = given_up_on(app)
    add_pending(app, attempts=0)
    add_pending(app, attempts=3)  # failed once already: the server may be down

    page = admin.get(PAGE).get_data(as_text=True)

    assert "2 e-mails are waiting to be sent." in page
    assert "Of these, 1 failed at its last attempt and will be tried again." in page
    assert "1 e-mail was given up on." in page
    assert REPORTER_EMAIL in page
    assert f"We received your report {reference}" in page
    assert f'href="/staff/tickets/{reference}"' in page
    assert f"<td>{MAX_ATTEMPTS}</td>" in page
    assert "<code>ConnectionRefusedError</code>" in page
    assert f'action="/staff/admin/outbox/{message_id}/retry"' in page


def test_the_list_says_when_nothing_was_given_up_on(app, admin):
    page = admin.get(PAGE).get_data(as_text=True)

    assert "No e-mail has been given up on." in page
    assert "0 e-mails are waiting to be sent." in page


def test_the_list_shows_the_newest_first_and_pages_to_the_older(app, admin):
    now = utcnow()
    with app.app_context():
        db.session.add_all(
            OutboxMessage(
                to_address=f"person{i}@example.org",
                subject=f"Message {i}",
                body="Body\n",
                locale="en",
                status=OutboxStatus.FAILED,
                created_at=now + timedelta(seconds=i),
            )
            for i in range(PAGE_SIZE + 1)
        )
        db.session.commit()
        second_oldest = db.session.scalar(
            sa.select(OutboxMessage.id).where(OutboxMessage.subject == "Message 1")
        )
    older_link = f"{PAGE}?before={second_oldest}"

    first = admin.get(PAGE).get_data(as_text=True)
    older = admin.get(older_link).get_data(as_text=True)

    assert f"Message {PAGE_SIZE}<" in first
    assert "Message 0<" not in first
    assert older_link in first
    assert f"{PAGE_SIZE + 1} e-mails were given up on." in first
    assert "Message 0<" in older
    assert "Message 1<" not in older


# -- retrying -----------------------------------------------------------------------------------


def test_a_retried_message_is_delivered_by_the_next_run(app, admin, smtp_port):
    message_id, reference = given_up_on(app)

    response = retry(admin, message_id)

    assert response.status_code == 303
    assert response.headers["Location"] == PAGE
    page = admin.get(PAGE).get_data(as_text=True)
    assert "Queued to send again." in page
    assert "1 e-mail is waiting to be sent." in page
    assert "No e-mail has been given up on." in page
    queued = stored(app, message_id)
    assert (queued.status, queued.attempts, queued.last_error) == (OutboxStatus.PENDING, 0, None)
    assert queued.next_attempt_at <= utcnow()

    with smtp_server(smtp_port) as mailbox:
        report = deliver(app)

    assert report.sent == 1
    [mail] = mailbox.received
    assert mail.envelope_to == [REPORTER_EMAIL]
    assert mail.message["Subject"] == f"We received your report {reference}"
    assert stored(app, message_id).status is OutboxStatus.SENT


def test_the_retry_is_audited_with_the_admin_and_without_the_address(app, admin):
    message_id, _reference = given_up_on(app)

    retry(admin, message_id)

    [entry] = retried_entries(app)
    assert entry.actor_id == f"staff:{admin.user_id}"
    assert (entry.object_type, entry.object_id) == ("outbox_message", str(message_id))
    assert "ConnectionRefusedError" in entry.payload
    assert "@" not in entry.payload
    assert "report" not in entry.payload.casefold()  # nothing of the subject or the body
    verified = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert verified.exit_code == 0, verified.output


def test_retrying_twice_queues_the_message_once(app, admin, smtp_port):
    message_id, _reference = given_up_on(app)

    first = retry(admin, message_id)
    second = retry(admin, message_id)

    assert first.status_code == second.status_code == 303
    assert "This e-mail is already queued to be sent again." in admin.get(PAGE).get_data(
        as_text=True
    )
    assert len(retried_entries(app)) == 1
    with smtp_server(smtp_port) as mailbox:
        deliver(app)
    assert len(mailbox.received) == 1


def test_a_message_that_was_sent_is_not_sent_again(app, admin, smtp_port):
    message_id, _reference = given_up_on(app)
    retry(admin, message_id)
    with smtp_server(smtp_port) as mailbox:
        deliver(app)

    response = retry(admin, message_id)

    assert response.status_code == 303
    assert "This e-mail has already been sent." in admin.get(PAGE).get_data(as_text=True)
    assert stored(app, message_id).status is OutboxStatus.SENT
    assert len(mailbox.received) == 1
    assert len(retried_entries(app)) == 1


def test_a_message_whose_private_link_was_removed_cannot_be_sent_again(app, admin, smtp_port):
    message_id, _reference = given_up_on(app, carries_secret=True)
    assert stored(app, message_id).body == SCRUBBED_BODY
    listed = admin.get(PAGE).get_data(as_text=True)

    response = retry(admin, message_id)

    assert "Cannot be sent again: it held a private link." in listed
    assert f'action="/staff/admin/outbox/{message_id}/retry"' not in listed
    assert 'href="/reports/lost-link"' in listed
    assert response.status_code == 303
    page = admin.get(PAGE).get_data(as_text=True)
    assert "This e-mail cannot be sent again: it held a private tracking link" in page
    assert "“Get a new tracking link” page" in page
    assert stored(app, message_id).status is OutboxStatus.FAILED
    assert retried_entries(app) == []
    with smtp_server(smtp_port) as mailbox:
        deliver(app)
    assert mailbox.received == []


def test_an_unknown_message_is_not_found(app, admin):
    message_id, _reference = given_up_on(app)

    response = retry(admin, message_id + 1)

    assert response.status_code == 404


@pytest.mark.parametrize(
    ("email", "roles"),
    [("agent@example.org", (Role.AGENT,)), ("owner@example.org", (Role.OWNER, Role.AGENT))],
    ids=["agent", "owner"],
)
def test_agents_and_owners_may_neither_see_nor_retry(app, email, roles):
    message_id, _reference = given_up_on(app)
    client = signed_in(app, email, roles)

    listed = client.get(PAGE)
    retried = retry(client, message_id)

    assert listed.status_code == retried.status_code == 403
    assert stored(app, message_id).status is OutboxStatus.FAILED
    assert retried_entries(app) == []
