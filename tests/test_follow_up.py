"""Some days after a decision the clock asks the reporter "Did this resolve your concern?"; they
answer on their page with one click; "no" leads to the appeal while it is open; and the clock
closes the reports decided long enough ago."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal.clock import utcnow
from portal.extensions import db
from portal.models import (
    AppealResult,
    AutomatedMeans,
    Decision,
    EventKind,
    FollowUpAnswer,
    OutboxMessage,
    Outcome,
    Remedy,
    StaffUser,
    Status,
    Ticket,
    TicketEvent,
)
from portal.models.enums import Role
from portal.services import decisions, follow_up
from portal.services.appeals import appeal
from portal.services.links import LinkPurpose, signed_token
from tests.factories import make_staff, make_ticket
from tests.test_admin import signed_in
from tests.test_decision_page import ticket_of
from tests.test_tracking import Report, csrf_token, page_text

EMAIL = "reporter@example.org"
DAY = timedelta(days=1)


@pytest.fixture
def app_config(app_config):
    # The dashboard's test signs in an administrator; the second factor has tests of its own.
    app_config["PORTAL_TOTP_REQUIRED_FOR_ADMINS"] = False
    return app_config


@pytest.fixture
def decider(app) -> int:
    return make_staff(app, email="decider@example.org", name="Dana Decider")


def file_and_decide(app, *, decided_at, decided_by: int, **ticket_fields) -> Report:
    """A report decided at ``decided_at`` through the decision service. Commits."""
    with app.app_context():
        ticket, token = make_ticket(app, now=decided_at - DAY, **ticket_fields)
        decide(ticket, decided_by, now=decided_at)
        db.session.commit()
        return Report(ticket.reference, token)


def decide(ticket: Ticket, staff_id: int, *, now, **answers) -> Decision:
    values = {
        "outcome": Outcome.NOT_UPHELD,
        "remedies": [Remedy.NONE],
        "remedy_details": None,
        "fixed_in_version_id": None,
        "facts": "The answer quoted the published safety sheet correctly.",
        "measure": "No change to the model.",
        "automated_means": AutomatedMeans.NONE,
        "policy_clause": "Usage policy, section 2",
        "language": "en",
    }
    values.update(answers)
    return decisions.decide(
        ticket,
        staff=db.session.get(StaffUser, staff_id),
        now=now,
        lost_link_url=lambda: "https://redress.test/reports/lost-link",
        **values,
    )


def run_clock(app, now) -> follow_up.FollowUpReport:
    with app.app_context():
        report = follow_up.run_due(now=now)
        db.session.commit()
        return report


def follow_up_mail(app, reference: str) -> list[OutboxMessage]:
    with app.app_context():
        ticket = ticket_of(reference)
        return [
            message
            for message in db.session.scalars(
                sa.select(OutboxMessage).where(OutboxMessage.ticket_id == ticket.id)
            )
            if "/reports/follow-up/" in message.body
        ]


def answer_link(message: OutboxMessage) -> str:
    """The link's path (the test client talks to the app, not to PORTAL_BASE_URL's host)."""
    [path] = re.findall(r"https?://[^/\s]+(/reports/follow-up/\S+)", message.body)
    return path


def answer(client, report: Report, choice: str, comment: str = ""):
    token = csrf_token(client, report.case_url)
    return client.post(
        f"{report.case_url}/follow-up",
        data={"csrf_token": token, "answer": choice, "comment": comment},
    )


def asked_reporter(app, report: Report, decided_at) -> None:
    """The clock has asked about the report's decision (run the day it fell due)."""
    run_clock(app, decided_at + 14 * DAY)


# -- asking ---------------------------------------------------------------------------------------


def test_the_clock_asks_by_email_once_the_follow_up_days_have_passed(app, decider):
    decided_at = utcnow() - 20 * DAY
    report = file_and_decide(
        app,
        decided_at=decided_at,
        decided_by=decider,
        contact_email=EMAIL,
        consent_contact=True,
        locale="fr",
    )

    too_early = run_clock(app, decided_at + 14 * DAY - timedelta(minutes=1))
    due = run_clock(app, decided_at + 14 * DAY)
    again = run_clock(app, decided_at + 15 * DAY)

    assert (too_early.asked, due.asked, again.asked) == (0, 1, 0)
    [message] = follow_up_mail(app, report.reference)
    assert message.to_address == EMAIL
    assert message.subject.startswith("Notre décision a-t-elle répondu à votre préoccupation")
    assert message.carries_secret  # the link opens the report: scrubbed once sent
    assert "/reports/follow-up/" in message.body


def test_without_consent_to_be_contacted_the_question_waits_on_the_page_only(app, client, decider):
    decided_at = utcnow() - 20 * DAY
    report = file_and_decide(app, decided_at=decided_at, decided_by=decider, contact_email=EMAIL)
    client.get(report.tracking_url)
    before = page_text(client.get(report.case_url))

    asked_reporter(app, report, decided_at)
    after = page_text(client.get(report.case_url))

    assert "Did our decision resolve your concern?" not in before
    assert "Did our decision resolve your concern?" in after
    assert follow_up_mail(app, report.reference) == []


def test_the_emailed_link_opens_the_report_at_the_question_in_a_new_browser(app, decider):
    decided_at = utcnow() - 20 * DAY
    report = file_and_decide(
        app, decided_at=decided_at, decided_by=decider, contact_email=EMAIL, consent_contact=True
    )
    asked_reporter(app, report, decided_at)
    [message] = follow_up_mail(app, report.reference)
    browser = app.test_client()

    opened = browser.get(answer_link(message))
    page = page_text(browser.get(report.case_url))

    assert opened.status_code == 303
    assert opened.headers["Location"].endswith(f"{report.case_url}#follow-up")
    assert 'id="follow-up"' in page
    assert 'name="answer" value="partly"' in page


def test_a_forged_or_replaced_follow_up_link_does_not_open_the_report(app, decider):
    decided_at = utcnow() - 20 * DAY
    report = file_and_decide(app, decided_at=decided_at, decided_by=decider)
    with app.app_context():
        ticket = ticket_of(report.reference)
        genuine = signed_token(LinkPurpose.FOLLOW_UP, ticket)
        other_purpose = signed_token(LinkPurpose.ERASURE, ticket)
        ticket.tracking_version += 1  # "lost your link?" issued a new tracking link since
        db.session.commit()
    browser = app.test_client()

    for token in (genuine, genuine[:-2] + "xx", other_purpose, "not-a-token"):
        response = browser.get(f"/reports/follow-up/{token}")
        assert response.status_code == 404
        assert "This tracking link does not work" in page_text(response)
    assert browser.get(report.case_url).status_code == 404


def test_a_decision_under_appeal_is_not_asked_about_but_the_answer_to_the_appeal_is(app, decider):
    reviewer = make_staff(app, email="reviewer@example.org", name="Rae Reviewer")
    decided_at = utcnow() - 40 * DAY
    report = file_and_decide(app, decided_at=decided_at, decided_by=decider)
    with app.app_context():
        ticket = ticket_of(report.reference)
        appeal(
            ticket,
            reason="You missed the second answer.",
            files=[],
            now=decided_at + 3 * DAY,
            window=timedelta(days=183),
        )
        decide(
            ticket,
            reviewer,
            now=decided_at + 10 * DAY,
            outcome=Outcome.UPHELD,
            remedies=[Remedy.APOLOGY],
            appeal_result=AppealResult.REVERSED,
        )
        db.session.commit()

    run_clock(app, decided_at + 20 * DAY)
    run_clock(app, decided_at + 24 * DAY)

    with app.app_context():
        ticket = ticket_of(report.reference)
        asked = [
            event.detail["decision_id"]
            for event in ticket.events
            if event.kind is EventKind.FOLLOW_UP_ASKED
        ]
        answer_to_appeal = decisions.current_decision(ticket)
        assert asked == [answer_to_appeal.id]
        assert answer_to_appeal.appeal_result is AppealResult.REVERSED


# -- answering ------------------------------------------------------------------------------------


@pytest.fixture
def asked(app, client, decider) -> Report:
    """A report decided 15 days ago, asked about, whose page ``client`` has open."""
    decided_at = utcnow() - 15 * DAY
    report = file_and_decide(app, decided_at=decided_at, decided_by=decider)
    asked_reporter(app, report, decided_at)
    client.get(report.tracking_url)
    return report


def test_yes_records_the_answer_closes_the_report_and_thanks_the_reporter(app, client, asked):
    response = answer(client, asked, "yes", comment="Thank you, it is fixed for me.")
    page = page_text(client.get(asked.case_url))

    assert response.headers["Location"].endswith(asked.case_url)
    assert "Thank you for your answer." in page
    assert "You answered: Yes" in page
    assert "Thank you, it is fixed for me." in page
    assert "Did our decision resolve your concern?" not in page  # asked once, answered once
    with app.app_context():
        ticket = ticket_of(asked.reference)
        decision = decisions.current_decision(ticket)
        assert (decision.follow_up_answer, decision.follow_up_comment) == (
            FollowUpAnswer.YES,
            "Thank you, it is fixed for me.",
        )
        assert ticket.status is Status.CLOSED


def test_no_inside_the_appeal_window_leads_to_the_appeal(app, client, asked):
    response = answer(client, asked, "no", comment="The answer is still wrong.")
    appeal_page = page_text(client.get(response.headers["Location"]))

    assert response.headers["Location"].endswith(f"{asked.case_url}/appeal")
    assert "you can appeal it here" in appeal_page
    with app.app_context():
        ticket = ticket_of(asked.reference)
        assert decisions.current_decision(ticket).follow_up_answer is FollowUpAnswer.NO
        assert ticket.status is Status.DECIDED  # still open to an appeal, not closed by "no"


def test_no_after_the_appeal_window_stays_on_the_page_and_names_the_outside_route(
    app, client, decider
):
    decided_at = utcnow() - 200 * DAY
    report = file_and_decide(app, decided_at=decided_at, decided_by=decider)
    with app.app_context():
        ticket = ticket_of(report.reference)
        decisions.current_decision(ticket).follow_up_asked_at = decided_at + 14 * DAY
        db.session.commit()
    client.get(report.tracking_url)

    response = answer(client, report, "no")
    page = page_text(client.get(report.case_url))

    assert response.headers["Location"].endswith(report.case_url)
    assert "You answered: No" in page
    assert "you can no longer appeal on this site" in page
    assert "You can also take your complaint to" in page


def test_a_second_answer_changes_nothing_and_says_why(app, client, asked):
    answer(client, asked, "partly", comment="Only on the website.")
    second = answer(client, asked, "yes")
    page = page_text(client.get(second.headers["Location"]))

    assert "We have already had your answer about this decision." in page
    with app.app_context():
        decision = decisions.current_decision(ticket_of(asked.reference))
        assert decision.follow_up_answer is FollowUpAnswer.PARTLY
        answers = db.session.scalars(
            sa.select(TicketEvent).where(
                TicketEvent.ticket_id == decision.ticket_id,
                TicketEvent.kind == EventKind.FOLLOW_UP_ANSWERED,
            )
        ).all()
        assert len(answers) == 1


def test_a_comment_too_long_is_refused_with_a_message_and_kept(app, client, asked):
    comment = "It is still wrong. " * 200  # 3,800 characters: over the 2,000 allowed

    response = answer(client, asked, "partly", comment=comment)
    page = page_text(response)

    assert response.status_code == 200
    assert "<title>Error:" in page
    assert "There is a problem" in page
    assert comment.strip() in page
    with app.app_context():
        assert decisions.current_decision(ticket_of(asked.reference)).follow_up_answer is None


def test_a_forged_answer_is_refused_with_a_message(app, client, asked):
    page = page_text(answer(client, asked, "maybe"))

    assert "Choose yes, partly or no" in page
    with app.app_context():
        assert decisions.current_decision(ticket_of(asked.reference)).follow_up_answer is None


def test_there_is_nothing_to_answer_before_the_question_is_asked(app, client, decider):
    report = file_and_decide(app, decided_at=utcnow() - DAY, decided_by=decider)
    client.get(report.tracking_url)

    response = answer(client, report, "yes")

    page = page_text(client.get(response.headers["Location"]))
    assert "There is no question to answer about this decision now." in page
    with app.app_context():
        assert decisions.current_decision(ticket_of(report.reference)).follow_up_answer is None


def test_staff_see_the_reporters_answer_in_the_case_history(app, client, asked):
    answer(client, asked, "partly", comment="Only on the website.")

    with app.app_context():
        events = ticket_of(asked.reference).events
        kinds = [event.kind for event in events]
        [answered] = [event for event in events if event.kind is EventKind.FOLLOW_UP_ANSWERED]
        assert EventKind.FOLLOW_UP_ASKED in kinds
        assert answered.detail["answer"] == "partly"
        assert answered.body == "Only on the website."
        assert answered.is_public


# -- closing ----------------------------------------------------------------------------------


def test_the_clock_closes_reports_decided_long_enough_ago_and_an_appeal_reopens_them(app, decider):
    now = utcnow()
    old = file_and_decide(app, decided_at=now - 28 * DAY, decided_by=decider)
    recent = file_and_decide(app, decided_at=now - 27 * DAY, decided_by=decider)

    report = run_clock(app, now)

    assert report.closed == 1
    with app.app_context():
        closed, still_decided = ticket_of(old.reference), ticket_of(recent.reference)
        assert (closed.status, closed.closed_at) == (Status.CLOSED, now)
        assert still_decided.status is Status.DECIDED
        appeal(closed, reason="Still wrong.", files=[], now=now, window=timedelta(days=183))
        db.session.commit()
        assert closed.status is Status.APPEALED


# -- the figures ------------------------------------------------------------------------------


def test_the_dashboard_counts_outcomes_reversals_and_follow_up_answers_of_the_last_30_days(
    app, decider
):
    reviewer = make_staff(app, email="reviewer@example.org", name="Rae Reviewer")
    now = utcnow()
    long_ago = file_and_decide(app, decided_at=now - 40 * DAY, decided_by=decider)
    partly = file_and_decide(app, decided_at=now - 16 * DAY, decided_by=decider)
    reversed_one = file_and_decide(app, decided_at=now - 10 * DAY, decided_by=decider)
    with app.app_context():
        ticket = ticket_of(reversed_one.reference)
        appeal(ticket, reason="Wrong.", files=[], now=now - 9 * DAY, window=timedelta(days=183))
        decide(
            ticket,
            reviewer,
            now=now - 8 * DAY,
            outcome=Outcome.UPHELD,
            remedies=[Remedy.APOLOGY],
            appeal_result=AppealResult.REVERSED,
        )
        db.session.commit()
    run_clock(app, now)  # asks about the decisions of 40 and 16 days ago
    for report, choice in ((long_ago, "no"), (partly, "partly")):
        browser = app.test_client()
        browser.get(report.tracking_url)
        answer(browser, report, choice)
    admin = signed_in(app, "admin@example.org", (Role.ADMIN,))

    page = page_text(admin.get("/staff/sla"))

    section = " ".join(
        page.split("Decisions, appeals and follow-up: the last 30 days", 1)[1].split()
    )
    # Two not upheld (16 and 10 days ago), one upheld (the answer to the appeal); the
    # decision of 40 days ago is outside the window, but its follow-up answer is inside.
    rows = dict(re.findall(r'<th scope="row">([^<]+)</th> ?<td[^>]*>(\d+)</td>', section))
    assert (rows["Not upheld"], rows["Upheld"], rows["All decisions"]) == ("2", "1", "3")
    assert (
        "1 appeal answered in the last 30 days: Decision confirmed: 0; Decision reversed: 1."
        in (" ".join(section.split()))
    )
    assert "2 answers in the last 30 days: Yes: 0; Partly: 1; No: 1." in " ".join(section.split())
