"""The case page: everything about a report on one page, and the actions staff take there.

Each action is a POST that saves in one transaction, leaves an event and an audit entry, changes
only what its form names and never silently overwrites someone else's change. Staff outside the
report's team find nothing at all: their answer is the one for a reference that does not exist.
"""

import html
import io
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_babel import force_locale, gettext
from PIL import Image
from sqlalchemy.orm import Session

from portal.clock import utcnow
from portal.extensions import db
from portal.i18n import language_name
from portal.models import (
    Attachment,
    AuditEntry,
    Category,
    EventKind,
    ModelVersion,
    OutboxMessage,
    Role,
    SavedReply,
    Severity,
    StaffUser,
    Status,
    Team,
    Ticket,
)
from portal.services import assignment, casework
from portal.services.attachments import store_evidence
from portal.services.outbox import SmtpSettings, deliver_due
from tests.conftest import CSRF_PATTERN, hidden_value
from tests.factories import make_staff, make_team, make_ticket, route_everything_to
from tests.signing_in import sign_in
from tests.test_outbox import free_port, smtp_server

EMAIL = "reporter@example.org"
VERSION_PATTERN = re.compile(r'name="version" value="(\d+)"')
CONFLICT = (
    "Someone else changed this report while you were working on it. Their changes are shown "
    "below; check them and try again."
)


@dataclass(frozen=True)
class Report:
    reference: str
    token: str
    canary: str

    @property
    def url(self) -> str:
        return f"/staff/tickets/{self.reference}"

    @property
    def tracking_url(self) -> str:
        return f"/reports/track/{self.token}"

    @property
    def reporter_url(self) -> str:
        return f"/reports/case/{self.reference}"


@dataclass(frozen=True)
class People:
    agent: int
    colleague: int
    outsider: int


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def app_config(app_config, smtp_port):
    app_config.update(
        PORTAL_SMTP_HOST="127.0.0.1",
        PORTAL_SMTP_PORT=smtp_port,
        PORTAL_SMTP_TIMEOUT=5,
        # Administrators sign in here with a password only (two-step sign-in has its own tests).
        PORTAL_TOTP_REQUIRED_FOR_ADMINS=False,
    )
    return app_config


@pytest.fixture
def people(app, registry) -> People:
    """Every report goes to Trust and Safety, where the agent and a colleague work; the outsider
    works in another team."""
    with app.app_context():
        route_everything_to("trust-safety")
        make_team("second-line", "Second line")
        db.session.commit()
    return People(
        agent=make_staff(app, team_slugs=("trust-safety",), languages=("en", "fr")),
        colleague=make_staff(
            app, "colleague@example.org", name="Cy Colleague", team_slugs=("trust-safety",)
        ),
        outsider=make_staff(
            app, "outsider@example.org", name="Otto Outsider", team_slugs=("second-line",)
        ),
    )


@pytest.fixture
def agent(client, people):
    """A browser signed in as the agent."""
    assert sign_in(client).status_code == 303
    return client


def file_report(app, **overrides) -> Report:
    """A report about Aurora Chat 3.0 whose description carries a unique canary."""
    canary = f"CANARY-{uuid.uuid4().hex}"
    with app.app_context():
        version = db.session.scalar(sa.select(ModelVersion).where(ModelVersion.version == "3.0"))
        values = {
            "model_id": version.model_id,
            "model_version_id": version.id,
            "description": f"It told me to mix them. {canary}",
        }
        values.update(overrides)
        ticket, token = make_ticket(app, **values)
        db.session.commit()
        return Report(ticket.reference, token, canary)


@pytest.fixture
def report(app, people) -> Report:
    """From a French-speaking reporter who gave an address and may be contacted."""
    return file_report(app, contact_email=EMAIL, consent_contact=True, locale="fr")


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def without_tags(page: str) -> str:
    return re.sub(r"<[^>]+>", "", page)


def send(client, report: Report, action: str, page: str | None = None, **data):
    """Fill in one of the page's forms as the page shows it (token, version) and send it."""
    page = page or client.get(report.url).get_data(as_text=True)
    fields = {
        "csrf_token": hidden_value(page, CSRF_PATTERN),
        "version": hidden_value(page, VERSION_PATTERN),
    }
    fields.update(data)
    return client.post(f"{report.url}/{action}", data=fields)


def stored(app, report: Report, read):
    """``read(ticket)`` on the ticket as the database has it now."""
    with app.app_context():
        ticket = db.session.scalar(sa.select(Ticket).where(Ticket.reference == report.reference))
        return read(ticket)


def event_kinds(app, report: Report) -> list[EventKind]:
    return stored(app, report, lambda ticket: [event.kind for event in ticket.events])


def audit_trail(app, report: Report) -> list[tuple[str | None, str]]:
    with app.app_context():
        return [
            (entry.actor_id, entry.action)
            for entry in db.session.scalars(
                sa.select(AuditEntry)
                .where(AuditEntry.object_id == report.reference)
                .order_by(AuditEntry.seq)
            )
        ]


def options(page: str, name: str) -> list[str]:
    select = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', page, re.DOTALL)
    assert select, f"no {name!r} select on the page"
    return re.findall(r'<option value="([^"]*)"', select.group(1))


def reporter_browser(app, report: Report):
    browser = app.test_client()
    assert browser.get(report.tracking_url).status_code == 303
    return browser


# -- the page -----------------------------------------------------------------------------------


def test_the_case_page_shows_the_report_its_model_severities_and_history(agent, report):
    response = agent.get(report.url)
    page = text_of(response)

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert report.canary in page
    assert "Aurora Chat 3.0" in page
    assert "Not assessed yet" in page
    assert "The reporter said: High: serious harm to me or others" in page
    assert '<p class="preserve-lines case-text" lang="fr" dir="auto">' in page
    assert "The reporter writes in French (fr); e-mails to them are in that language." in (
        without_tags(page)
    )
    assert "Report received" in page
    assert "Sent to Trust and Safety" in page  # internal: staff see it
    assert "Routing rule 1000: “Everything”" in page
    assert "Staff only" in page
    assert EMAIL not in page  # the address is used by the outbox, never shown


def test_a_reference_typed_loosely_opens_the_case(agent, report):
    loose = report.reference.lower().replace("-", " ")

    response = agent.get(f"/staff/tickets/{loose}")

    assert response.status_code == 302
    assert response.location == report.url


def test_a_model_that_is_not_listed_shows_what_the_reporter_typed(app, agent, people):
    report = file_report(
        app, model_id=None, model_version_id=None, model_not_listed="Chatbot of my bank"
    )

    assert "Not listed: “Chatbot of my bank”" in text_of(agent.get(report.url))


# -- assigning ----------------------------------------------------------------------------------


def test_claiming_a_report_makes_it_mine_with_an_event_and_an_audit_entry(
    app, agent, people, report
):
    response = send(agent, report, "assign", claim="y")

    assert response.status_code == 303
    assert response.location == report.url
    page = text_of(agent.get(report.url))
    assert "You are now working on this report." in page
    assert "Assigned to Ada Agent" in page
    assert stored(app, report, lambda ticket: ticket.assignee_id) == people.agent
    assert (f"staff:{people.agent}", "ticket.assigned") in audit_trail(app, report)


def test_a_report_goes_to_a_colleague_and_back_to_the_teams_queue(app, agent, people, report):
    send(agent, report, "assign", assignee=str(people.colleague))
    assigned = stored(app, report, lambda ticket: ticket.assignee_id)
    send(agent, report, "assign", assignee="")

    assert assigned == people.colleague
    assert stored(app, report, lambda ticket: ticket.assignee_id) is None
    assert event_kinds(app, report).count(EventKind.ASSIGNED) == 2
    assert "Unassigned: back to the team's queue" in text_of(agent.get(report.url))


def test_someone_outside_the_team_cannot_be_assigned_even_by_a_forged_form(
    app, agent, people, report
):
    page = agent.get(report.url).get_data(as_text=True)

    response = send(agent, report, "assign", page=page, assignee=str(people.outsider))

    assert str(people.outsider) not in options(page, "assignee")
    assert response.status_code == 200
    assert "There is a problem" in text_of(response)
    assert stored(app, report, lambda ticket: ticket.assignee_id) is None


def test_the_history_says_why_the_system_assigned_a_report(app, agent, people, report):
    with app.app_context():
        ticket = db.session.scalar(sa.select(Ticket).where(Ticket.reference == report.reference))
        member = db.session.get(StaffUser, people.colleague)
        casework.assign(ticket, member, staff=None, now=utcnow(), reason=assignment.AUTO)
        db.session.commit()

    page = text_of(agent.get(report.url))

    assert "Assigned to Cy Colleague" in page
    assert "Given automatically to the least busy member of the team" in page
    assert "Redress, automatically" in page


def test_a_form_without_the_version_it_was_shown_with_is_refused(app, agent, report):
    page = agent.get(report.url).get_data(as_text=True)

    response = agent.post(
        f"{report.url}/classification",
        data={"csrf_token": hidden_value(page, CSRF_PATTERN), "category": "bias"},
    )

    assert response.status_code == 400
    assert EventKind.RECATEGORISED not in event_kinds(app, report)


# -- status and classification ------------------------------------------------------------------


def test_the_status_form_offers_only_valid_moves_and_refuses_a_forged_one(app, agent, report):
    page = agent.get(report.url).get_data(as_text=True)
    offered_when_new = options(page, "status")

    forged = send(agent, report, "status", page=page, status=Status.CLOSED.value)
    status_after_forgery = stored(app, report, lambda ticket: ticket.status)
    moved = send(agent, report, "status", status=Status.TRIAGED.value)
    offered_when_triaged = options(agent.get(report.url).get_data(as_text=True), "status")

    assert offered_when_new == [Status.TRIAGED.value]
    assert forged.status_code == 200
    assert "There is a problem" in text_of(forged)
    assert status_after_forgery is Status.NEW
    assert moved.status_code == 303
    assert stored(app, report, lambda ticket: ticket.status) is Status.TRIAGED
    assert offered_when_triaged == [Status.INVESTIGATING.value]


def test_classifying_changes_only_what_differs_with_one_event_each(app, agent, report):
    recategorised = send(agent, report, "classification", category="privacy", severity="")
    assessed = send(agent, report, "classification", category="privacy", severity="critical")
    unchanged = send(agent, report, "classification", category="privacy", severity="critical")

    assert [r.status_code for r in (recategorised, assessed, unchanged)] == [303, 303, 303]
    kinds = event_kinds(app, report)
    assert kinds.count(EventKind.RECATEGORISED) == 1
    assert kinds.count(EventKind.SEVERITY_SET) == 1
    ticket = stored(
        app, report, lambda t: (t.category, t.severity, t.reporter_severity, t.priority)
    )
    assert ticket == (Category.PRIVACY, Severity.CRITICAL, Severity.HIGH, 4)
    page = text_of(agent.get(report.url))
    assert "Kind of problem changed from “Dangerous instructions” to “Privacy" in page
    assert "Seriousness assessed: Critical" in page


def test_the_classification_form_changes_nothing_it_does_not_name(app, agent, people, report):
    with app.app_context():
        other_team = db.session.scalar(sa.select(Team.id).where(Team.slug == "second-line"))
    before = stored(
        app,
        report,
        lambda t: (t.status, t.team_id, t.is_spam, t.assignee_id, t.reporter_severity, t.locale),
    )

    response = send(
        agent,
        report,
        "classification",
        category="bias",
        severity="low",
        status="closed",
        team_id=str(other_team),
        is_spam="1",
        assignee_id=str(people.agent),
        reporter_severity="low",
        locale="ar",
        contact_email="attacker@example.org",
        row_version="1000",
    )

    assert response.status_code == 303
    after = stored(
        app,
        report,
        lambda t: (t.status, t.team_id, t.is_spam, t.assignee_id, t.reporter_severity, t.locale),
    )
    assert after == before
    assert stored(app, report, lambda t: (t.category, t.severity, t.contact_email)) == (
        Category.BIAS,
        Severity.LOW,
        EMAIL,
    )


# -- talking to the reporter --------------------------------------------------------------------


def test_a_reply_reaches_the_reporter_by_e_mail_in_their_language_and_on_their_page(
    app, agent, people, report, smtp_port
):
    reply = "Merci : nous examinons votre signalement."

    response = send(agent, report, "reply", reply=reply)
    with smtp_server(smtp_port) as mailbox, app.app_context():
        deliver_due(SmtpSettings.from_config(app.config), now=utcnow())
        db.session.commit()

    assert response.status_code == 303
    replies = [mail for mail in mailbox.received if reply in mail.body]
    assert len(replies) == 1
    assert replies[0].envelope_to == [EMAIL]
    assert replies[0].message["Content-Language"] == "fr"
    assert report.reference in replies[0].message["Subject"]
    assert (f"staff:{people.agent}", "ticket.replied") in audit_trail(app, report)
    reporter_page = text_of(reporter_browser(app, report).get(report.reporter_url))
    assert "Reply from our team" in reporter_page
    assert f'<div dir="auto"><p class="timeline__body">{reply}</p></div>' in reporter_page


def test_a_reply_to_a_reporter_without_an_address_is_only_on_their_page(app, agent, people):
    report = file_report(app)
    page = text_of(agent.get(report.url))

    response = send(agent, report, "reply", reply="Thank you.")

    assert "your reply will only be on their tracking page" in page
    assert response.status_code == 303
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(OutboxMessage.id))) == 0
    assert "Thank you." in text_of(reporter_browser(app, report).get(report.reporter_url))


def test_an_empty_reply_is_explained_and_nothing_is_sent(app, agent, report):
    response = send(agent, report, "reply", reply="   ")

    page = text_of(response)
    assert response.status_code == 200
    assert "<title>Error:" in page
    assert '<a href="#reply">Enter your reply</a>' in page
    assert EventKind.REPLIED not in event_kinds(app, report)


def test_a_saved_reply_of_the_team_in_the_reporters_language_fills_in_the_reply(app, agent, report):
    with app.app_context():
        team_id = stored(app, report, lambda ticket: ticket.team_id)
        other_team = db.session.scalar(sa.select(Team.id).where(Team.slug == "second-line"))
        saved = [
            SavedReply(team_id=team_id, locale="fr", title="Accusé", body="Bonjour, merci."),
            SavedReply(team_id=team_id, locale="en", title="Received", body="Hello, thanks."),
            SavedReply(team_id=other_team, locale="fr", title="Autre", body="Autre équipe."),
        ]
        db.session.add_all(saved)
        db.session.commit()
        ours, english, theirs = (reply.id for reply in saved)

    page = text_of(agent.get(report.url))
    chosen = agent.get(f"{report.url}?saved_reply={ours}").get_data(as_text=True)
    not_ours = text_of(agent.get(f"{report.url}?saved_reply={theirs}"))
    response = send(
        agent, report, "reply", page=chosen, reply="Bonjour, merci.", saved_reply_id=ours
    )

    assert options(page, "saved_reply") == [str(ours)]
    assert str(english) not in options(page, "saved_reply")
    assert re.search(r'name="reply"[^>]*>\s*Bonjour, merci\.</textarea>', chosen)
    assert f'name="saved_reply_id" value="{ours}"' in chosen
    assert "Autre équipe." not in not_ours
    assert response.status_code == 303
    details = stored(
        app, report, lambda t: [e.detail for e in t.events if e.kind is EventKind.REPLIED]
    )
    assert details == [{"saved_reply_id": ours}]


def test_asking_for_information_waits_for_the_reporter_and_their_answer_resumes_the_work(
    app, agent, report
):
    response = send(agent, report, "request-information", question="Which app was it?")
    waiting = stored(app, report, lambda ticket: ticket.status)
    reporter = reporter_browser(app, report)
    reporter_page = reporter.get(report.reporter_url).get_data(as_text=True)
    reporter.post(
        f"{report.reporter_url}/information",
        data={"csrf_token": hidden_value(reporter_page, CSRF_PATTERN), "text": "The mobile app."},
    )

    assert response.status_code == 303
    assert waiting is Status.AWAITING_REPORTER
    assert "Which app was it?" in html.unescape(reporter_page)
    assert "More information requested" in html.unescape(reporter_page)
    assert stored(app, report, lambda ticket: ticket.status) is Status.INVESTIGATING
    assert "The mobile app." in text_of(agent.get(report.url))


def test_internal_notes_never_reach_the_reporter(app, agent, people, report):
    note = f"Internal: ask legal first. {uuid.uuid4().hex}"

    response = send(agent, report, "notes", reply="ignored", note=note)

    assert response.status_code == 303
    assert note in text_of(agent.get(report.url))
    assert (f"staff:{people.agent}", "ticket.note_added") in audit_trail(app, report)
    reporter_page = text_of(reporter_browser(app, report).get(report.reporter_url))
    assert note not in reporter_page
    assert "Internal note" not in reporter_page
    assert EventKind.REPLIED not in event_kinds(app, report)


# -- merging and flagging -----------------------------------------------------------------------


def test_a_merged_duplicates_reporter_keeps_their_link_and_sees_nothing_of_the_other_report(
    app, agent, people, report
):
    original = file_report(app)

    response = send(agent, report, "merge", target=original.reference.lower().replace("-", " "))

    assert response.status_code == 303
    assert stored(app, report, lambda ticket: ticket.status) is Status.MERGED
    assert event_kinds(app, original)[-1] is EventKind.MERGED
    assert (f"staff:{people.agent}", "ticket.merged") in audit_trail(app, original)
    duplicate_page = text_of(agent.get(report.url))
    assert f'href="/staff/tickets/{original.reference}"' in duplicate_page
    original_page = without_tags(text_of(agent.get(original.url)))
    assert f"Report {report.reference} was merged into this one" in original_page
    with app.app_context():
        told = db.session.scalars(
            sa.select(OutboxMessage).where(
                # Not the confirmation of the report, which carries the tracking link.
                OutboxMessage.to_address == EMAIL,
                OutboxMessage.carries_secret.is_(False),
            )
        ).all()
    assert [message.locale for message in told] == ["fr"]
    reporter_response = reporter_browser(app, report).get(report.reporter_url)
    reporter_page = text_of(reporter_response)
    assert reporter_response.status_code == 200
    assert "Merged with another report" in reporter_page
    assert "handling them together" in reporter_page
    assert original.reference not in reporter_page
    assert original.canary not in reporter_page


def test_related_reports_are_offered_as_merge_candidates_within_the_team(app, agent, people):
    first, second = file_report(app), file_report(app)
    elsewhere = file_report(app)
    unrelated = file_report(app, category="privacy")
    with app.app_context():
        ticket = db.session.scalar(sa.select(Ticket).where(Ticket.reference == elsewhere.reference))
        ticket.team = db.session.scalar(sa.select(Team).where(Team.slug == "second-line"))
        db.session.commit()

    page = text_of(agent.get(second.url))
    response = send(agent, second, "merge", page=page, target=first.reference)

    assert f"Merge this report into {first.reference}" in page
    assert elsewhere.reference not in page
    assert unrelated.reference not in page
    assert response.status_code == 303
    assert stored(app, second, lambda ticket: ticket.merged_into.reference) == first.reference


def test_merging_into_another_teams_report_reads_like_a_report_that_does_not_exist(
    app, agent, people, report
):
    theirs = file_report(app)
    with app.app_context():
        ticket = db.session.scalar(sa.select(Ticket).where(Ticket.reference == theirs.reference))
        ticket.team = db.session.scalar(sa.select(Team).where(Team.slug == "second-line"))
        db.session.commit()

    out_of_scope = send(agent, report, "merge", target=theirs.reference)
    missing = send(agent, report, "merge", target="RP-2222-3333")

    message = "There is no report with that reference that you can work on. Check it."
    assert out_of_scope.status_code == missing.status_code == 200
    assert message in text_of(out_of_scope)
    assert message in text_of(missing)
    assert theirs.canary not in text_of(out_of_scope)
    assert stored(app, report, lambda ticket: ticket.status) is Status.NEW


def test_a_report_can_be_flagged_as_a_possible_serious_incident(app, agent, people, report):
    response = send(agent, report, "serious-incident")

    assert response.status_code == 303
    assert stored(app, report, lambda ticket: ticket.serious_incident_at) is not None
    page = text_of(agent.get(report.url))
    assert "Flagged as a possible serious incident on" in page
    assert "Flag as a possible serious incident</button>" not in page
    assert (f"staff:{people.agent}", "ticket.serious_incident_flagged") in audit_trail(app, report)
    assert (
        "possible serious incident"
        not in text_of(reporter_browser(app, report).get(report.reporter_url)).casefold()
    )


# -- two people at once -------------------------------------------------------------------------


def test_a_form_older_than_someone_elses_change_saves_nothing_and_keeps_what_was_typed(
    app, agent, people, report
):
    stale_page = agent.get(report.url).get_data(as_text=True)
    colleague = app.test_client()
    sign_in(colleague, email="colleague@example.org")
    send(colleague, report, "classification", category="privacy", severity="")

    response = send(agent, report, "reply", page=stale_page, reply="My carefully written reply.")

    page = text_of(response)
    assert response.status_code == 409
    assert CONFLICT in page
    assert "Privacy or personal data exposure" in page  # their change, shown
    assert re.search(r'name="reply"[^>]*>\s*My carefully written reply\.</textarea>', page)
    assert EventKind.REPLIED not in event_kinds(app, report)
    again = send(agent, report, "reply", page=response.get_data(as_text=True), reply="Again.")
    assert again.status_code == 303


def test_a_save_that_races_another_at_the_database_gets_the_same_message(
    app, agent, people, report, monkeypatch
):
    reply = casework.reply

    def colleague_saves_first(ticket, *args, **kwargs):
        with Session(db.engine) as elsewhere:
            elsewhere.get(Ticket, ticket.id).category = Category.PRIVACY
            elsewhere.commit()
        return reply(ticket, *args, **kwargs)

    monkeypatch.setattr(casework, "reply", colleague_saves_first)

    response = send(agent, report, "reply", reply="Written at the same moment.")

    page = text_of(response)
    assert response.status_code == 409
    assert CONFLICT in page
    assert "Written at the same moment." in page
    assert stored(app, report, lambda ticket: ticket.category) is Category.PRIVACY
    assert EventKind.REPLIED not in event_kinds(app, report)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(OutboxMessage.id))) == 1  # confirmation


# -- evidence -----------------------------------------------------------------------------------


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def attach(app, report: Report, data: bytes, filename: str) -> int:
    """Store ``data`` as evidence of ``report``; returns the attachment's id."""
    with app.app_context():
        upload_dir = Path(app.config["PORTAL_UPLOAD_DIR"])
        stored_file = store_evidence(io.BytesIO(data), filename, upload_dir)
        ticket = db.session.scalar(sa.select(Ticket).where(Ticket.reference == report.reference))
        attachment = Attachment(created_at=utcnow(), **vars(stored_file))
        ticket.attachments.append(attachment)
        db.session.commit()
        return attachment.id


def test_evidence_is_only_ever_downloaded_and_each_download_is_audited(app, agent, people, report):
    script = b"<script>alert(document.cookie)</script>\n"
    attachment_id = attach(app, report, script, "conversation.txt")

    response = agent.get(f"{report.url}/files/{attachment_id}")
    body = response.get_data()
    response.close()

    assert response.status_code == 200
    assert body == script
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "conversation.txt" in response.headers["Content-Disposition"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert (f"staff:{people.agent}", "attachment.downloaded") in audit_trail(app, report)


def test_images_are_previewed_blurred_until_the_agent_chooses_to_see_them(app, agent, report):
    attachment_id = attach(app, report, png(), "screenshot.png")

    page = agent.get(report.url).get_data(as_text=True)
    preview_url = f"{report.url}/files/{attachment_id}?preview=1"
    preview = agent.get(preview_url)
    preview.get_data()
    preview.close()

    # A real control, before the image it unblurs (CSS :checked ~), that works without script.
    toggle = page.index(f'id="reveal-{attachment_id}"')
    assert toggle < page.index('<label class="checkboxes__label case-preview__label" for="reveal-')
    assert toggle < page.index(f'src="{preview_url}"')
    assert 'class="case-preview__image"' in page
    assert preview.status_code == 200
    assert preview.mimetype == "image/png"
    assert preview.headers["Content-Disposition"].startswith("attachment;")


def test_another_reports_file_is_not_found_through_this_report(app, agent, people, report):
    other = file_report(app)
    other_file = attach(app, other, b"someone else's evidence\n", "theirs.txt")

    response = agent.get(f"{report.url}/files/{other_file}")

    assert response.status_code == 404
    assert b"someone else's evidence" not in response.get_data()


# -- other teams --------------------------------------------------------------------------------

ACTIONS = [
    "assign",
    "status",
    "classification",
    "reply",
    "request-information",
    "notes",
    "merge",
    "serious-incident",
]


def test_staff_of_another_team_find_nothing_not_even_that_the_report_exists(app, people, report):
    attachment_id = attach(app, report, b"evidence\n", "evidence.txt")
    outsider = app.test_client()
    sign_in(outsider, email="outsider@example.org")
    missing = "RP-2222-3333"
    not_found = outsider.get(f"/staff/tickets/{missing}").get_data(as_text=True)
    token = hidden_value(not_found, CSRF_PATTERN)
    data = {
        "csrf_token": token,
        "version": "1",
        "claim": "y",
        "status": "triaged",
        "category": "bias",
        "reply": "Hello",
        "question": "Why?",
        "note": "Hm.",
        "target": missing,
    }

    def answers(reference: str) -> list[tuple[int, str]]:
        responses = [
            outsider.get(f"/staff/tickets/{reference}"),
            outsider.get(f"/staff/tickets/{reference}/files/{attachment_id}"),
            *(outsider.post(f"/staff/tickets/{reference}/{a}", data=data) for a in ACTIONS),
        ]
        # Identical but for the reference (the language switcher links to the page itself) and
        # the CSRF token (signed with the time, to the second).
        return [
            (
                response.status_code,
                CSRF_PATTERN.sub("", response.get_data(as_text=True).replace(reference, "{a}")),
            )
            for response in responses
        ]

    for_the_report, for_nothing = answers(report.reference), answers(missing)

    assert for_the_report == for_nothing
    assert {status for status, _body in for_the_report} == {404}
    assert all(report.canary not in body for _status, body in for_the_report)
    assert event_kinds(app, report) == [EventKind.SUBMITTED, EventKind.ROUTED]
    assert ("staff:" + str(people.outsider), "attachment.downloaded") not in audit_trail(
        app, report
    )


def test_an_administrator_works_on_every_teams_reports(app, people, report):
    make_staff(app, "admin@example.org", roles=(Role.ADMIN,), name="Ada Admin")
    admin = app.test_client()
    sign_in(admin, email="admin@example.org")

    response = admin.get(report.url)

    assert response.status_code == 200
    assert report.canary in text_of(response)


def test_a_report_sent_to_another_team_leaves_the_agents_sight_and_reaches_that_team(
    app, agent, people, report
):
    assert send(agent, report, "assign", claim="y").status_code == 303
    with app.app_context():
        second_line = db.session.scalar(sa.select(Team.id).where(Team.slug == "second-line"))

    response = send(agent, report, "team", team=str(second_line))

    assert response.status_code == 303
    assert response.headers["Location"].endswith("/staff/queue")
    assert agent.get(report.url).status_code == 404
    assert stored(app, report, lambda ticket: (ticket.team_id, ticket.assignee_id)) == (
        second_line,
        None,
    )
    assert (f"staff:{people.agent}", "ticket.routed") in audit_trail(app, report)
    outsider = app.test_client()
    sign_in(outsider, email="outsider@example.org")
    history = without_tags(text_of(outsider.get(report.url)))
    assert "Sent to Second line" in history
    assert "Sent to another team." in history  # why the agent gave it up


def test_an_administrator_sends_a_report_no_rule_matched_to_a_team(app, people):
    with app.app_context():
        unrouted, _token = make_ticket(app)
        unrouted.team = None
        db.session.commit()
        report = Report(unrouted.reference, "", "")
        team = db.session.scalar(sa.select(Team.id).where(Team.slug == "trust-safety"))
    make_staff(app, "admin@example.org", roles=(Role.ADMIN,), name="Ada Admin")
    admin = app.test_client()
    sign_in(admin, email="admin@example.org")

    response = send(admin, report, "team", team=str(team))

    assert response.status_code == 303
    assert stored(app, report, lambda ticket: ticket.team_id) == team


# -- the whole journey --------------------------------------------------------------------------


def test_an_agents_day_queue_reply_question_and_merge_all_in_history_and_a_verified_audit_log(
    app, client, people, smtp_port
):
    """The issue's "done when": an agent signs in, sees their team's queue, opens a case,
    replies (the e-mail reaches a real SMTP server), asks for information and merges a
    duplicate; every step is in the history and in an audit log that verifies."""
    report = file_report(app, contact_email=EMAIL, consent_contact=True, locale="fr")
    duplicate = file_report(app, contact_email="second@example.org", consent_contact=True)
    with app.app_context():
        elsewhere_team = db.session.scalar(sa.select(Team).where(Team.slug == "second-line"))
        other, _token = make_ticket(app, description="Another team's report")
        other.team = elsewhere_team
        db.session.commit()
        other_reference = other.reference

    assert sign_in(client, next_page="/staff/").status_code == 303
    queue = text_of(client.get("/staff/queue"))
    assert report.reference in queue
    assert duplicate.reference in queue
    assert other_reference not in queue
    assert report.canary not in queue  # the queue lists reports; their texts stay on the case

    case_page = text_of(client.get(report.url))
    assert report.canary in case_page
    assert (
        send(client, report, "reply", reply="Thank you, we are looking into it.").status_code == 303
    )
    question = "Which app were you using when this happened?"
    assert send(client, report, "request-information", question=question).status_code == 303
    merged = send(client, duplicate, "merge", target=report.reference)
    assert merged.status_code == 303

    with smtp_server(smtp_port) as mailbox, app.app_context():
        report_delivery = deliver_due(SmtpSettings.from_config(app.config), now=utcnow())
        db.session.commit()
    assert report_delivery.failed == 0
    mail_to = {(mail.envelope_to[0], mail.message["Content-Language"]) for mail in mailbox.received}
    assert (EMAIL, "fr") in mail_to
    assert ("second@example.org", "en") in mail_to
    bodies = [mail.body for mail in mailbox.received if mail.envelope_to == [EMAIL]]
    assert any("Thank you, we are looking into it." in body for body in bodies)
    assert any(question in body for body in bodies)

    assert stored(app, report, lambda ticket: ticket.status) is Status.AWAITING_REPORTER
    history = without_tags(text_of(client.get(report.url)))
    assert "Thank you, we are looking into it." in history
    assert question in history
    assert f"Report {duplicate.reference} was merged into this one" in history
    staff = f"staff:{people.agent}"
    trail = audit_trail(app, report)
    for action in ("ticket.replied", "ticket.information_requested", "ticket.merged"):
        assert (staff, action) in trail
    assert (staff, "ticket.status_changed") in audit_trail(app, duplicate)
    verified = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert verified.exit_code == 0, verified.output


@pytest.mark.parametrize(
    ("action", "field"), [("assign", "assignee"), ("classification", "severity")]
)
def test_a_blank_looking_choice_is_refused_with_a_message_not_an_error_page(
    app, agent, report, action, field
):
    response = send(agent, report, action, **{field: " ", "category": "bias"})

    assert response.status_code == 200
    assert "Not a valid choice" in response.get_data(as_text=True)
    assert stored(app, report, lambda ticket: (ticket.assignee_id, ticket.severity)) == (None, None)


def test_staff_reading_in_arabic_see_the_reporters_language_and_reply_to_them_in_hindi(
    app, agent, people
):
    """E-mails to a reporter are in the reporter's language, whatever the staff member reads."""
    report = file_report(app, contact_email=EMAIL, consent_contact=True, locale="hi")
    arabic = {"Accept-Language": "ar"}

    page = agent.get(report.url, headers=arabic).get_data(as_text=True)
    response = send(agent, report, "reply", page=page, reply="धन्यवाद, हम इसे देख रहे हैं।")

    assert '<html lang="ar" dir="rtl">' in page
    assert re.search(r'<textarea[^>]* dir="auto"[^>]* id="reply"[^>]* lang="hi"', page)
    with app.test_request_context(headers=arabic):
        assert f'{language_name("hi")} (<span translate="no">hi</span>)' in html.unescape(page)
    assert response.status_code == 303
    with app.app_context():
        message = db.session.scalars(sa.select(OutboxMessage)).all()[-1]
        with force_locale("hi"):
            subject = gettext("A reply about your report %(reference)s", reference=report.reference)
    assert (message.locale, message.subject) == ("hi", subject)
    assert "धन्यवाद, हम इसे देख रहे हैं।" in message.body
