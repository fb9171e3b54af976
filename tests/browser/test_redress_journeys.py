"""The two redress journeys end to end, in a real browser, in English and in Arabic, with the
e-mails delivered to a real SMTP server by the clock's own jobs:

- a decision accepted through the follow-up: an agent decides, the reporter is told by e-mail,
  two weeks later the clock asks "Did this resolve your concern?" and the reporter answers
  "yes" from the e-mailed link, which closes the report;
- a decision appealed and reversed by a different reviewer: the reporter appeals from their
  page, the agent who decided cannot answer the appeal, a colleague reverses the decision,
  and the reporter is told by e-mail and on their page.

Every page on the way passes axe-core's WCAG 2.2 AA rules.
"""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import gettext as _
from playwright.sync_api import Page

from portal.clock import utcnow
from portal.extensions import db
from portal.models import Role, Status, Team, Ticket
from portal.models.routing import TeamMembership
from portal.scheduler import follow_up_decisions, send_outbox
from portal.services.accounts import create_user, hasher_from_config
from tests.browser.conftest import (
    STAFF_EMAIL,
    STAFF_PASSWORD,
    csp_violations,
    sign_in_as,
    sign_out,
    submit_form,
)
from tests.browser.page_checks import axe_problems
from tests.factories import make_ticket
from tests.test_outbox import free_port, smtp_server

pytestmark = pytest.mark.browser

REVIEWER_EMAIL = "reviewer@example.org"
REPORTER_EMAIL = "reporter-journey@example.org"
JOURNEY_LOCALES = ("en", "ar")


@pytest.fixture
def mailbox(live_app):
    """A real SMTP server the live portal's outbox delivers to."""
    port = free_port()
    previous = live_app.config["PORTAL_SMTP_HOST"], live_app.config["PORTAL_SMTP_PORT"]
    live_app.config.update(PORTAL_SMTP_HOST="127.0.0.1", PORTAL_SMTP_PORT=port)
    with smtp_server(port) as mailbox:
        yield mailbox
    live_app.config["PORTAL_SMTP_HOST"], live_app.config["PORTAL_SMTP_PORT"] = previous


def run_clock_job(app, job, now) -> None:
    """One run of a clock job, as the clock runs it: a fresh app context, one commit."""
    with app.app_context():
        job(now)
        db.session.commit()
        db.session.remove()


def file_report(app, locale: str) -> tuple[str, str]:
    """A report from someone who reads ``locale`` and agreed to be contacted: (reference, token)."""
    with app.app_context():
        ticket, token = make_ticket(
            app,
            locale=locale,
            contact_email=REPORTER_EMAIL,
            consent_contact=True,
            description="The assistant told me to double my dose.",
        )
        db.session.commit()
        reference = ticket.reference
        db.session.remove()
    return reference, token


def translated(app, locale: str, text: str, **values) -> str:
    """``text`` in ``locale``; outside English, never the English text itself (a missing
    translation would otherwise pass unseen)."""
    with app.test_request_context(), force_locale(locale):
        words = _(text, **values)
    english = text % values if values else text
    assert locale == "en" or words != english, f"{text!r} is not translated into {locale}"
    return words


def status_of(app, reference: str) -> Status:
    with app.app_context():
        status = db.session.scalar(sa.select(Ticket.status).where(Ticket.reference == reference))
        db.session.remove()
        return status


def link_in(mail, path: str) -> str:
    body = mail.message.get_body(preferencelist=("plain",)).get_content()
    match = re.search(rf"https?://\S+({re.escape(path)}\S+)", body)
    assert match, f"no {path} link in: {body}"
    return match.group(1)


def check_accessibility(page: Page, name: str, problems: list[str]) -> None:
    problems += axe_problems(page, f"{name} ({page.url})")


def decide(page: Page, reference: str, *, outcome: str, appeal_result: str | None = None):
    page.goto(f"/staff/tickets/{reference}")
    if appeal_result:
        page.locator(f"input[name='appeal_result'][value='{appeal_result}']").check()
    page.locator(f"input[name='outcome'][value='{outcome}']").check()
    page.locator("input[name='remedies'][value='safeguard_added']").check()
    page.fill("#facts", "The answer gave a dose twice the one on the leaflet.")
    page.fill("#measure", "Dosage questions now point to the leaflet and a pharmacist.")
    page.locator("input[name='automated_means'][value='none']").check()
    page.fill("#policy_clause", "Usage policy 4.2: medical advice")
    with page.expect_navigation():
        page.locator("form[action$='/decision'] button[type='submit']").click()


@pytest.mark.parametrize("locale", JOURNEY_LOCALES)
def test_a_decision_accepted_through_the_follow_up(
    page, live_app, mailbox, locale, console_messages
):
    problems: list[str] = []
    reference, _token = file_report(live_app, locale)

    page.goto(f"/staff/tickets/{reference}")
    sign_in_as(page, STAFF_EMAIL)
    decide(page, reference, outcome="upheld")
    assert status_of(live_app, reference) is Status.DECIDED
    run_clock_job(live_app, send_outbox, utcnow())

    decision_mail = mailbox.received[-1]  # after the confirmation of the report
    assert decision_mail.message["Subject"] == translated(
        live_app, locale, "Our decision on your report %(reference)s", reference=reference
    )

    # Two weeks later the clock asks, and the question leaves by e-mail.
    later = utcnow() + timedelta(days=14, minutes=1)
    run_clock_job(live_app, follow_up_decisions, later)
    run_clock_job(live_app, send_outbox, later)
    question_mail = mailbox.received[-1]
    assert question_mail.message["Subject"] == translated(
        live_app,
        locale,
        "Did our decision resolve your concern? Report %(reference)s",
        reference=reference,
    )

    # The reporter opens the e-mailed link in a browser of their own and answers with one click.
    sign_out(page)
    page.context.clear_cookies()
    page.goto(link_in(question_mail, "/reports/follow-up/"))
    assert page.url.endswith(f"/reports/case/{reference}#follow-up")
    assert page.locator("html").get_attribute("lang") == locale
    check_accessibility(page, "follow-up question", problems)
    with page.expect_navigation():
        page.locator("form[action$='/follow-up'] button[value='yes']").click()

    check_accessibility(page, "follow-up answered", problems)
    assert page.locator(".tag--closed").inner_text() == translated(live_app, locale, "Closed")
    assert page.locator("form[action$='/follow-up']").count() == 0
    assert status_of(live_app, reference) is Status.CLOSED
    assert not problems, "\n".join(problems)
    assert csp_violations(console_messages) == []


@pytest.fixture
def reviewer(live_app) -> None:
    """A colleague of the agent in Trust and Safety, who may review the agent's decisions."""
    with live_app.app_context():
        user = create_user(
            REVIEWER_EMAIL,
            "Rae Reviewer",
            STAFF_PASSWORD,
            [Role.AGENT],
            hasher=hasher_from_config(live_app.config),
        )
        team = db.session.scalar(sa.select(Team).where(Team.slug == "trust-safety"))
        db.session.add(TeamMembership(team=team, user=user))
        db.session.commit()
        db.session.remove()


@pytest.mark.parametrize("locale", JOURNEY_LOCALES)
def test_a_decision_appealed_and_reversed_by_a_different_reviewer(
    page, live_app, mailbox, reviewer, locale, console_messages
):
    problems: list[str] = []
    reference, token = file_report(live_app, locale)

    page.goto(f"/staff/tickets/{reference}")
    sign_in_as(page, STAFF_EMAIL)
    decide(page, reference, outcome="not_upheld")
    sign_out(page)

    # The reporter reads the decision and appeals.
    page.goto(f"/reports/track/{token}")
    page.goto(f"/reports/case/{reference}/appeal")
    check_accessibility(page, "appeal", problems)
    page.fill("#reason", "Doubling a dose is dangerous: the leaflet says so.")
    submit_form(page)
    check_accessibility(page, "appealed", problems)
    assert status_of(live_app, reference) is Status.APPEALED

    # The agent who decided is not offered the appeal; a colleague reverses the decision.
    page.goto(f"/staff/tickets/{reference}")
    sign_in_as(page, STAFF_EMAIL)
    assert page.locator("form[action$='/decision']").count() == 0
    sign_out(page)
    page.goto(f"/staff/tickets/{reference}")
    sign_in_as(page, REVIEWER_EMAIL)
    decide(page, reference, outcome="upheld", appeal_result="decision_reversed")
    assert status_of(live_app, reference) is Status.DECIDED
    sign_out(page)

    run_clock_job(live_app, send_outbox, utcnow())
    answer_mail = mailbox.received[-1]
    assert answer_mail.message["Subject"] == translated(
        live_app,
        locale,
        "Our answer to your appeal about report %(reference)s",
        reference=reference,
    )
    body = answer_mail.message.get_body(preferencelist=("plain",)).get_content()
    reversed_label = translated(live_app, locale, "Decision reversed")
    assert reversed_label in body
    assert translated(live_app, locale, "Upheld") in body

    page.goto(f"/reports/track/{token}")
    check_accessibility(page, "appeal answered", problems)
    assert page.locator("#appeal-heading").is_visible()
    assert reversed_label in page.locator("main").inner_text()
    assert not problems, "\n".join(problems)
    assert csp_violations(console_messages) == []
