"""A reporter downloads a copy of what is held about their report, from its tracking page: a JSON
file and a page to keep, with their answers, evidence, history, decisions and appeal, and
nothing that is only the team's."""

import hashlib
import io
import json
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from portal.clock import utcnow
from portal.extensions import db
from portal.models import AutomatedMeans, Outcome, Remedy, StaffUser, Ticket
from portal.services import casework, decisions, follow_up
from tests.factories import make_staff, make_ticket
from tests.test_tracking import Report, csrf_token, page_text

EMAIL = "sam@example.org"
TYPED = "It said <script>alert(1)</script> and then told me to mix bleach and ammonia."
EVIDENCE = b"me: how do I clean the bathroom?\nbot: mix bleach and ammonia\n"
NOTE = "Internal: same answer as in last week's incident, check with the model team."
REPLY = "Thank you. We have reproduced the answer and are looking into it."
FACTS = "The assistant gave instructions that produce a toxic gas."
APPEAL = "The fix does not cover the mobile app, where I saw the same answer yesterday."
STAFF = ("agent@example.org", "Ada Agent", "decider@example.org", "Dana Decider")


def lost_link_url() -> str:
    return "http://redress.test/reports/lost-link"


def ticket_of(reference: str) -> Ticket:
    return db.session.scalar(sa.select(Ticket).where(Ticket.reference == reference))


def decide(app, reference: str, staff_id: int, *, now: datetime | None = None) -> None:
    """Staff decide the report, as the decision form does. Commits."""
    with app.app_context():
        decisions.decide(
            ticket_of(reference),
            outcome=Outcome.PARTLY_UPHELD,
            remedies=[Remedy.OUTPUT_CORRECTED],
            remedy_details=None,
            fixed_in_version_id=None,
            facts=FACTS,
            measure="We corrected the answer for every user.",
            automated_means=AutomatedMeans.NONE,
            policy_clause="Usage policy, section 4.2: dangerous instructions",
            language="en",
            staff=db.session.get(StaffUser, staff_id),
            now=now or utcnow(),
            lost_link_url=lost_link_url,
        )
        db.session.commit()


def your_data(client, report: Report, **headers):
    return client.get(f"{report.case_url}/your-data", headers=headers)


def your_data_json(client, report: Report):
    return client.get(f"{report.case_url}/your-data.json")


@pytest.fixture
def agent(app) -> int:
    return make_staff(app, email=STAFF[0], name=STAFF[1])


@pytest.fixture
def decider(app) -> int:
    return make_staff(app, email=STAFF[2], name=STAFF[3])


@pytest.fixture
def report(app) -> Report:
    """A report from someone who gave their name and address, and agreed to be contacted."""
    with app.app_context():
        ticket, token = make_ticket(
            app,
            output_text=TYPED,
            input_text="How do I clean the bathroom?",
            description="These chemicals make a toxic gas.\nI nearly breathed it in.",
            impact="I nearly did it.",
            reporter_name="Sam Reporter",
            contact_email=EMAIL,
            consent_contact=True,
            timezone="America/New_York",
        )
        db.session.commit()
        return Report(ticket.reference, token)


@pytest.fixture
def reporter(client, report):
    """The browser that opened the report's tracking link."""
    assert client.get(report.tracking_url).status_code == 303
    return client


@pytest.fixture
def appealed(app, reporter, report, agent, decider) -> Report:
    """The report with its whole life so far: evidence added by the reporter, an internal note
    and a public reply from the team, a decision, and the reporter's appeal against it."""
    added = reporter.post(
        f"{report.case_url}/information",
        data={
            "csrf_token": csrf_token(reporter, report.case_url),
            "text": "Here is the conversation.",
            "evidence": (io.BytesIO(EVIDENCE), "chat-log.txt"),
        },
    )
    assert added.status_code == 303
    with app.app_context():
        ticket, staff = ticket_of(report.reference), db.session.get(StaffUser, agent)
        casework.add_note(ticket, NOTE, staff=staff, now=utcnow())
        casework.reply(ticket, REPLY, staff=staff, now=utcnow(), lost_link_url=lost_link_url)
        db.session.commit()
    decide(app, report.reference, decider)
    appeal_url = f"{report.case_url}/appeal"
    sent = reporter.post(
        appeal_url, data={"csrf_token": csrf_token(reporter, appeal_url), "reason": APPEAL}
    )
    assert sent.status_code == 303
    return report


# -- what the copy holds ------------------------------------------------------------------------


def test_the_reporter_downloads_their_data_as_a_json_file(reporter, appealed):
    response = your_data_json(reporter, appealed)

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="redress-{appealed.reference}.json"'
    )
    copy = json.loads(response.get_data(as_text=True))
    assert (copy["format"], copy["format_version"]) == ("redress-data-copy", 1)
    assert copy["reference"] == appealed.reference
    assert copy["status"] == "appealed"
    assert copy["timezone"] == "America/New_York"
    assert datetime.fromisoformat(copy["generated_at"]).utcoffset() == timedelta(0)
    assert copy["answers"]["output_text"] == TYPED
    assert copy["answers"]["impact"] == "I nearly did it."
    assert copy["answers"]["category"] == "dangerous_instructions"
    assert copy["contact"] == {"reporter_name": "Sam Reporter", "contact_email": EMAIL}
    assert copy["consents"] == {"contact": True, "training": False, "public_stats": False}
    [evidence] = copy["evidence"]
    assert evidence["original_name"] == "chat-log.txt"
    assert evidence["sha256"] == hashlib.sha256(EVIDENCE).hexdigest()
    assert evidence["size_bytes"] == len(EVIDENCE)
    replies = [event for event in copy["history"] if event["kind"] == "replied"]
    assert [(reply["by"], reply["text"]) for reply in replies] == [("staff", REPLY)]
    [added] = [event for event in copy["history"] if event["kind"] == "information_added"]
    assert (added["by"], added["files"]) == ("reporter", ["chat-log.txt"])
    [decision] = copy["decisions"]
    assert decision["outcome"] == "partly_upheld"
    assert decision["remedies"] == ["output_corrected"]
    assert decision["facts"] == FACTS
    assert decision["appealable_until"] is not None
    [appeal] = copy["appeals"]
    assert appeal["reason"] == APPEAL
    assert appeal["answered"] is False


def test_the_reporter_downloads_the_same_facts_as_a_page_to_keep(reporter, appealed):
    response = your_data(reporter, appealed)

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="redress-{appealed.reference}.html"'
    )
    page = page_text(response)
    assert page.startswith("<!doctype html>")
    assert '<html lang="en" dir="ltr">' in page
    assert f"<title>Your report {appealed.reference} \N{EN DASH} Redress</title>" in page
    for fact in (
        TYPED,
        "I nearly did it.",
        "Dangerous instructions",
        "Sam Reporter",
        EMAIL,
        "chat-log.txt",
        hashlib.sha256(EVIDENCE).hexdigest(),
        "Reply from our team",
        REPLY,
        "Partly upheld",
        "The output was corrected",
        FACTS,
        APPEAL,
        "Your appeal is being reviewed",
    ):
        assert fact in page, fact
    # Stand-alone and plain: nothing that needs the site, or that the CSP would refuse.
    assert "<script" not in response.get_data(as_text=True)
    assert "style" not in page
    assert "<link" not in page


def test_neither_file_holds_internal_notes_staff_identities_or_the_link_secrets(
    app, reporter, appealed
):
    with app.app_context():
        ticket = ticket_of(appealed.reference)
        secrets = (ticket.tracking_token_hash, ticket.submission_key_hash, appealed.token)

    for response in (your_data_json(reporter, appealed), your_data(reporter, appealed)):
        held = page_text(response)
        assert NOTE not in held
        assert "Internal note" not in held
        for name_or_address in STAFF:
            assert name_or_address not in held
        for secret in secrets:
            assert secret not in held
        assert "Trust and Safety" not in held  # nor the team


def test_a_new_report_has_no_evidence_decisions_or_appeals_yet(client, report):
    assert client.get(report.tracking_url).status_code == 303

    copy = json.loads(your_data_json(client, report).get_data(as_text=True))
    page = page_text(your_data(client, report))

    assert (copy["evidence"], copy["decisions"], copy["appeals"]) == ([], [], [])
    assert [event["kind"] for event in copy["history"]] == ["submitted"]
    assert copy["model"] is None
    assert "No files were sent with this report." in page
    assert "Our decision" not in page


def test_the_reporters_answer_to_the_follow_up_question_is_in_the_copy(
    app, reporter, report, decider
):
    decide(app, report.reference, decider, now=utcnow() - timedelta(days=15))
    with app.app_context():
        follow_up.run_due(now=utcnow())
        db.session.commit()
    answered = reporter.post(
        f"{report.case_url}/follow-up",
        data={
            "csrf_token": csrf_token(reporter, report.case_url),
            "answer": "partly",
            "comment": "The answer is fixed, but nobody said sorry.",
        },
    )
    assert answered.status_code == 303

    [decision] = json.loads(your_data_json(reporter, report).get_data(as_text=True))["decisions"]
    page = page_text(your_data(reporter, report))

    assert decision["follow_up_answer"] == "partly"
    assert decision["follow_up_comment"] == "The answer is fixed, but nobody said sorry."
    assert decision["follow_up_answered_at"] is not None
    assert "Did our decision resolve your concern?" in page
    assert "The answer is fixed, but nobody said sorry." in page


# -- who can have it ----------------------------------------------------------------------------


def test_another_browser_without_the_tracking_link_gets_not_found(app, appealed):
    stranger = app.test_client()

    assert your_data(stranger, appealed).status_code == 404
    assert your_data_json(stranger, appealed).status_code == 404


# -- the page -----------------------------------------------------------------------------------


def test_text_the_reporter_typed_is_shown_as_they_typed_it_and_never_run(reporter, report):
    raw = your_data(reporter, report).get_data(as_text=True)

    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in raw
    assert "<script>" not in raw
    # Read without the site's style sheet, the page keeps the lines as they were typed.
    assert "These chemicals make a toxic gas.<br>I nearly breathed it in." in raw


@pytest.mark.parametrize(
    ("language", "html_tag", "evidence", "history"),
    [
        ("fr", '<html lang="fr" dir="ltr">', "Pièces justificatives", "Historique"),
        ("ar", '<html lang="ar" dir="rtl">', "الأدلة", "السجل"),
    ],
)
def test_the_page_is_in_the_readers_language(
    reporter, appealed, language, html_tag, evidence, history
):
    page = page_text(your_data(reporter, appealed, **{"Accept-Language": language}))

    assert html_tag in page
    assert f"<h2>{evidence}</h2>" in page
    assert f"<h2>{history}</h2>" in page
    # What people wrote stays as they wrote it, its direction taken from the text itself.
    assert f'<p dir="auto" lang="en">{FACTS}</p>' in page
