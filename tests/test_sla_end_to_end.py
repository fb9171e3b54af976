"""The service levels end to end, with real processes: the web server and ``flask scheduler run``
(started together, as ``make run`` does), a real SMTP server and a one-minute policy.

A report filed through the web form shows its due times to the reporter and to staff, and the
team owner's breach e-mail arrives no more than ten seconds after the deadline.
"""

import html
import os
import re
import signal
import subprocess
import sys
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from http.cookiejar import CookieJar

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from portal.config import PROJECT_ROOT
from portal.extensions import db
from portal.i18n import format_local_datetime
from portal.models import DurationUnit, Role, Severity, SlaPolicy, Ticket
from tests.factories import STAFF_PASSWORD, make_staff, route_everything_to
from tests.reporting import complete_answers, read_page
from tests.test_outbox import free_port
from tests.test_scheduler import get_health, process_environment, wait_until

OWNER = "owner@example.org"
# How late the breach e-mail may reach the owner's mail server, at most.
ALLOWED_DELAY = timedelta(seconds=10)


class Browser:
    """A visitor over real HTTP: keeps cookies, follows redirects, reads pages."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))

    def get(self, path_or_url: str) -> str:
        with self.opener.open(urllib.parse.urljoin(self.base_url, path_or_url), timeout=10) as r:
            return r.read().decode()

    def submit(self, page: str, answers: dict) -> str:
        """Send the form on ``page``, its hidden fields with ``answers``; return the next page."""
        form = read_page(page)
        body = urllib.parse.urlencode({**form.hidden, **answers}).encode()
        url = urllib.parse.urljoin(self.base_url, form.action)
        with self.opener.open(url, data=body, timeout=10) as response:
            return response.read().decode()


def text_of(page: str) -> str:
    """The page's text, as one line: tags dropped, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


@pytest.fixture
def one_minute_policy(app, registry):
    """High-severity reports get a first response within one minute, round the clock; every
    report goes to Trust and Safety, whose owner is OWNER."""
    with app.app_context():
        route_everything_to("trust-safety")
        db.session.add(
            SlaPolicy(
                severity=Severity.HIGH,
                business_hours=False,
                first_response_amount=1,
                first_response_unit=DurationUnit.MINUTES,
                next_update_amount=1,
                next_update_unit=DurationUnit.HOURS,
                resolution_amount=1,
                resolution_unit=DurationUnit.HOURS,
            )
        )
        db.session.commit()
    make_staff(app, OWNER, roles=(Role.OWNER, Role.AGENT), team_slugs=("trust-safety",))


class TimedMailbox:
    """An aiosmtpd handler noting when each message arrived: [(arrival, recipients, raw)]."""

    def __init__(self):
        self.received: list[tuple[datetime, list[str], str]] = []

    async def handle_DATA(self, server, session, envelope):
        arrival = datetime.now(UTC)
        self.received.append((arrival, list(envelope.rcpt_tos), envelope.content.decode()))
        return "250 Message accepted for delivery"


def test_a_report_filed_now_shows_its_due_times_and_its_breach_reaches_the_owner_in_time(
    app, database_url, registry, one_minute_policy, tmp_path
):
    smtp_port, web_port = free_port(), free_port()
    mailbox = TimedMailbox()
    environment = {
        **process_environment(database_url, smtp_port, tmp_path),
        "PORTAL_BASE_URL": f"http://127.0.0.1:{web_port}",
        # Staff see times in the deployment's zone: the same in both processes and in this test.
        "PORTAL_DEFAULT_TIMEZONE": app.config["PORTAL_DEFAULT_TIMEZONE"],
    }
    log = tmp_path / "portal.log"

    mail_server = Controller(mailbox, hostname="127.0.0.1", port=smtp_port)
    mail_server.start()
    with log.open("w") as output:
        portal = subprocess.Popen(
            [sys.executable, "-m", "portal.devserver", "--port", str(web_port)],
            cwd=PROJECT_ROOT,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            assert wait_until(
                lambda: (
                    ((health := get_health(web_port)) and health["clock_age_seconds"] is not None)
                    or portal.poll() is not None
                ),
                interval=0.2,
            ), log.read_text()

            reporter = Browser(f"http://127.0.0.1:{web_port}")
            form = reporter.get("/reports/new?kind=harm_report")
            confirmation = reporter.submit(form, complete_answers(registry))
            tracking_link = re.search(r'class="tracking-link"><a href="([^"]+)"', confirmation)
            assert tracking_link, text_of(confirmation)
            tracking_page = text_of(reporter.get(html.unescape(tracking_link.group(1))))

            with app.app_context():
                ticket = db.session.scalars(sa.select(Ticket)).one()
                reference, due = ticket.reference, ticket.first_response_due_at
                with app.test_request_context():
                    for_the_reporter = text_of(format_local_datetime(due, "Europe/London"))
                    for_staff = text_of(format_local_datetime(due))
            assert due == ticket.created_at + timedelta(minutes=1)
            assert f"First response by {for_the_reporter}" in tracking_page, tracking_page

            staff = Browser(f"http://127.0.0.1:{web_port}")
            staff.submit(staff.get("/auth/sign-in"), {"email": OWNER, "password": STAFF_PASSWORD})
            case_page = text_of(staff.get(f"/staff/tickets/{reference}"))
            assert f"First response due {for_staff}" in case_page, case_page

            breach_subject = f"Report {reference} missed its First response deadline"
            wait_until(
                lambda: any(breach_subject in raw for _at, _to, raw in mailbox.received),
                timeout=(due - datetime.now(UTC) + 2 * ALLOWED_DELAY).total_seconds(),
                interval=0.1,
            )
        finally:
            os.killpg(portal.pid, signal.SIGINT)
            try:
                portal.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(portal.pid, signal.SIGKILL)
                portal.wait()
            mail_server.stop()

    breaches = [(arrival, to) for arrival, to, raw in mailbox.received if breach_subject in raw]
    assert breaches, log.read_text()
    [(arrival, recipients)] = breaches
    assert recipients == [OWNER]
    assert due <= arrival <= due + ALLOWED_DELAY, f"{arrival - due} after the deadline"
    assert "Traceback" not in log.read_text()
