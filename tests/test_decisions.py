"""Deciding a report and answering its appeal, from the case page.

A decision carries an outcome, what was done and a statement of reasons; it moves the report to
decided, stops its timers, leaves an event and an audit entry, and reaches a reporter who agreed
to be contacted in their own language, with what staff wrote as they wrote it. An appeal is
answered by someone other than the person whose decision is under appeal: they can neither be
given the appeal nor answer it. Nothing is saved from a form that is wrong or out of date.
"""

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from portal.clock import utcnow
from portal.extensions import db
from portal.i18n import format_local_datetime
from portal.models import (
    Actor,
    AIModel,
    Appeal,
    AppealResult,
    AuditEntry,
    AutomatedMeans,
    Decision,
    EventKind,
    ModelVersion,
    OutboxMessage,
    Outcome,
    ReasonTemplate,
    Remedy,
    StaffUser,
    Status,
    Team,
    Ticket,
)
from portal.services import assignment, casework, decisions, queue, sla
from portal.services.decisions import DecisionRefused
from portal.services.errors import CaseworkRefused
from portal.services.outbox import SmtpSettings, deliver_due
from portal.services.status import transition
from portal.services.ticket_audit import text_fingerprint
from tests.conftest import CSRF_PATTERN, hidden_value
from tests.factories import make_staff, make_team, route_everything_to
from tests.signing_in import sign_in
from tests.test_case_page import (
    CONFLICT,
    EMAIL,
    Report,
    audit_trail,
    file_report,
    options,
    send,
    stored,
    text_of,
)
from tests.test_outbox import free_port, smtp_server

ANSWERS = {
    "outcome": "upheld",
    "remedies": ["output_corrected", "safeguard_added"],
    "fixed_in_version_id": "",
    "remedy_details": "",
    "facts": "The output told the reporter to mix bleach and ammonia, which makes a toxic gas.",
    "measure": "The answer was corrected for every version of Aurora Chat.",
    "automated_means": "none",
    "policy_clause": "Usage policy, section 4.2 (dangerous activities)",
    "language": "en",
}
APPEAL_REASON = "You did not look at the screenshot I sent."


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
        PORTAL_OUTSIDE_REDRESS={"name": "Médiateur du numérique", "url": "https://mediateur.test/"},
    )
    return app_config


@pytest.fixture
def people(app, registry) -> People:
    """Every report goes to Trust and Safety, where the agent and a colleague work (both in
    English and French); the outsider works in another team."""
    with app.app_context():
        route_everything_to("trust-safety")
        make_team("second-line", "Second line")
        db.session.commit()
    return People(
        agent=make_staff(app, team_slugs=("trust-safety",), languages=("en", "fr")),
        colleague=make_staff(
            app,
            "colleague@example.org",
            name="Cy Colleague",
            team_slugs=("trust-safety",),
            languages=("en", "fr"),
        ),
        outsider=make_staff(
            app, "outsider@example.org", name="Otto Outsider", team_slugs=("second-line",)
        ),
    )


def browser(app, email: str):
    client = app.test_client()
    assert sign_in(client, email=email).status_code == 303
    return client


@pytest.fixture
def agent(app, people):
    return browser(app, "agent@example.org")


@pytest.fixture
def colleague(app, people):
    return browser(app, "colleague@example.org")


@pytest.fixture
def report(app, people) -> Report:
    """From a French-speaking reporter in Paris who gave an address and may be contacted."""
    return file_report(
        app, contact_email=EMAIL, consent_contact=True, locale="fr", timezone="Europe/Paris"
    )


def decide(client, report: Report, page: str | None = None, **changes):
    """Send the decision form with ``ANSWERS`` (a change to None leaves that answer out)."""
    answers = {**ANSWERS, **changes}
    return send(
        client,
        report,
        "decision",
        page=page,
        **{name: value for name, value in answers.items() if value is not None},
    )


def the_ticket(reference: str) -> Ticket:
    return db.session.scalar(sa.select(Ticket).where(Ticket.reference == reference))


def decisions_of(app, report: Report) -> list[Decision]:
    with app.app_context():
        return decisions.decisions_of(the_ticket(report.reference))


def appeal(app, report: Report, reason: str = APPEAL_REASON) -> None:
    """The reporter appeals the decision in force (as the tracking page will let them)."""
    with app.app_context():
        ticket, now = the_ticket(report.reference), utcnow()
        contested = decisions.current_decision(ticket)
        db.session.add(Appeal(ticket=ticket, decision=contested, reason=reason, submitted_at=now))
        sla.start_appeal_clock(ticket, now=now)
        transition(ticket, Status.APPEALED, now=now, actor=Actor.REPORTER)
        db.session.commit()


def decided_and_appealed(app, client, report: Report, **changes) -> None:
    assert decide(client, report, **changes).status_code == 303
    appeal(app, report)


def version_id(model_slug: str, version: str) -> int:
    return db.session.scalar(
        sa.select(ModelVersion.id)
        .join(ModelVersion.model)
        .where(AIModel.slug == model_slug, ModelVersion.version == version)
    )


def summary_link(page: str, field_id: str, message: str) -> bool:
    return f'<a href="#{field_id}">{message}</a>' in page


# -- deciding -----------------------------------------------------------------------------------


def test_a_decision_decides_the_report_stops_its_clocks_and_shows_on_the_case_page(
    app, agent, people, report
):
    running = stored(app, report, lambda ticket: ticket.next_due_at)

    response = decide(agent, report)

    assert running is not None
    assert response.status_code == 303
    assert response.headers["Location"] == report.url
    with app.app_context():
        ticket = the_ticket(report.reference)
        [decision] = decisions.decisions_of(ticket)
        assert ticket.status is Status.DECIDED
        assert ticket.decided_at == decision.decided_at
        assert ticket.next_due_at is None
        assert ticket.first_response_at == decision.decided_at  # nobody had answered before
        assert decision.outcome is Outcome.UPHELD
        assert decision.remedy_members == [Remedy.OUTPUT_CORRECTED, Remedy.SAFEGUARD_ADDED]
        assert (decision.facts, decision.policy_clause) == (
            ANSWERS["facts"],
            ANSWERS["policy_clause"],
        )
        assert decision.decided_by_id == people.agent
        statuses = [
            (event.from_status, event.to_status)
            for event in ticket.events
            if event.kind is EventKind.STATUS_CHANGED
        ]
        [decided] = [event for event in ticket.events if event.kind is EventKind.DECIDED]
        assert statuses == [
            (Status.NEW, Status.TRIAGED),
            (Status.TRIAGED, Status.INVESTIGATING),
            (Status.INVESTIGATING, Status.DECIDED),
        ]
        assert decided.is_public
        assert decided.detail == {
            "decision_id": decision.id,
            "outcome": "upheld",
            "remedies": ["output_corrected", "safeguard_added"],
            "automated_means": decision.automated_means.value,
            "statement_hmac": text_fingerprint(decisions.statement_text(decision)),
        }
    assert (f"staff:{people.agent}", "ticket.decided") in audit_trail(app, report)
    page = text_of(agent.get(report.url))
    assert "Decisions" in page
    assert "<strong>Upheld</strong>" in page
    assert "A safeguard was added" in page
    assert f'<p class="preserve-lines" lang="en" dir="auto">{ANSWERS["facts"]}</p>' in page
    assert "<dd>Ada Agent</dd>" in page
    assert f'action="{report.url}/decision"' not in page  # nothing left to decide


def test_the_reporter_gets_the_decision_in_their_language_with_the_reasons_as_written(
    app, agent, report, smtp_port
):
    decide(agent, report, language="en")
    with smtp_server(smtp_port) as mailbox, app.app_context():
        deliver_due(SmtpSettings.from_config(app.config), now=utcnow())
        db.session.commit()
        [decision] = decisions.decisions_of(the_ticket(report.reference))
        appeal_until = decisions.appeal_deadline(
            decision.decided_at,
            timezone="Europe/Paris",
            window=timedelta(days=app.config["PORTAL_APPEAL_WINDOW_DAYS"]),
        )
        with app.test_request_context():
            in_english = format_local_datetime(appeal_until, "Europe/Paris")
            with force_locale("fr"):
                outcome = str(Outcome.UPHELD.label)
                remedy = str(Remedy.SAFEGUARD_ADDED.label)
                deadline = format_local_datetime(appeal_until, "Europe/Paris")

    [mail] = [mail for mail in mailbox.received if ANSWERS["facts"] in mail.body]
    assert mail.envelope_to == [EMAIL]
    assert mail.message["Content-Language"] == "fr"
    assert report.reference in mail.message["Subject"]
    assert outcome in mail.body
    assert f"- {remedy}\n" in mail.body
    assert " anglais" in mail.body  # the language of the reasons, named in French
    assert ANSWERS["measure"] in mail.body
    assert ANSWERS["policy_clause"] in mail.body
    assert deadline in mail.body  # until when they can appeal, in Paris time, in French
    assert deadline != in_english
    assert "Médiateur du numérique" in mail.body
    assert "https://mediateur.test/" in mail.body
    assert "/reports/lost-link" in mail.body


def test_a_reporter_who_may_not_be_contacted_is_not_e_mailed(app, agent, people):
    report = file_report(app, contact_email=EMAIL, consent_contact=False)

    response = decide(agent, report)

    assert response.status_code == 303
    with app.app_context():
        bodies = list(db.session.scalars(sa.select(OutboxMessage.body)))
    assert len(bodies) == 1  # the confirmation of the report, sent to every address
    assert ANSWERS["facts"] not in bodies[0]


@pytest.mark.parametrize(
    ("changes", "field_id", "message"),
    [
        ({"facts": "  "}, "facts", "Enter the facts you relied on"),
        ({"measure": ""}, "measure", "Enter the measure taken and its scope"),
        ({"policy_clause": ""}, "policy_clause", "Enter the policy clause the decision rests on"),
        ({"outcome": None}, "outcome-0", "Choose the outcome"),
        (
            {"automated_means": None},
            "automated_means-0",
            "Choose whether automated means were used",
        ),
        ({"remedies": None}, "remedies-0", "Choose what was done, or “None”"),
        (
            {"remedies": ["none", "apology"]},
            "remedies-0",
            "“None” cannot be chosen with another remedy: untick one or the other",
        ),
        (
            {"remedies": ["model_fixed"]},
            "fixed_in_version_id",
            "Choose the model version that carries the fix",
        ),
        (
            {"remedies": ["apology"], "fixed_in_version_id": "version 3.0"},
            "fixed_in_version_id",
            "A version can only be given when the model's behaviour was fixed: choose that "
            "remedy, or no version",
        ),
        (
            {"remedies": ["model_fixed"], "fixed_in_version_id": "version 5.1 of Quill"},
            "fixed_in_version_id",
            "Choose an option from the list",
        ),
    ],
)
def test_each_problem_is_explained_at_its_question_and_nothing_is_saved(
    app, agent, report, changes, field_id, message
):
    with app.app_context():
        versions = {
            "version 3.0": str(version_id("aurora-chat", "3.0")),
            "version 5.1 of Quill": str(version_id("quill-writer", "5.1")),
        }
    if changes.get("fixed_in_version_id"):
        changes["fixed_in_version_id"] = versions[changes["fixed_in_version_id"]]
    typed = "Written carefully, and kept after the error."

    response = decide(agent, report, remedy_details=typed, **changes)

    page = text_of(response)
    assert response.status_code == 200
    assert "<title>Error:" in page
    assert summary_link(page, field_id, message), page
    assert re.search(rf'name="remedy_details"[^>]*>\s*{typed}</textarea>', page)
    assert decisions_of(app, report) == []
    assert stored(app, report, lambda ticket: ticket.status) is Status.NEW
    assert stored(app, report, lambda ticket: ticket.next_due_at) is not None


def test_a_fix_in_the_model_names_a_version_of_the_reports_own_model(app, agent, report):
    with app.app_context():
        fixed_in = version_id("aurora-chat", "3.0")
        offered = [str(version_id("aurora-chat", v)) for v in ("3.0", "2.5")]
    page = agent.get(report.url).get_data(as_text=True)

    response = decide(agent, report, remedies=["model_fixed"], fixed_in_version_id=str(fixed_in))

    assert options(page, "fixed_in_version_id") == ["", *offered]
    assert response.status_code == 303
    [decision] = decisions_of(app, report)
    assert decision.fixed_in_version_id == fixed_in
    assert "The model's behaviour was fixed in Aurora Chat version 3.0" in text_of(
        agent.get(report.url)
    )


def test_the_service_finds_every_problem_at_once_and_knows_each_model(app, people):
    report = file_report(app, model_id=None, model_version_id=None)
    with app.app_context():
        ticket, agent = the_ticket(report.reference), db.session.get(StaffUser, people.agent)
        answers = {
            "outcome": Outcome.UPHELD,
            "remedy_details": None,
            "automated_means": AutomatedMeans.NONE,
            "language": "xx",
            "staff": agent,
            "now": utcnow(),
            "lost_link_url": lambda: "http://redress.test/reports/lost-link",
        }

        with pytest.raises(DecisionRefused) as everything_wrong:
            decisions.decide(
                ticket,
                remedies=[Remedy.NONE, Remedy.APOLOGY],
                fixed_in_version_id=version_id("aurora-chat", "3.0"),
                facts=" ",
                measure="",
                policy_clause="",
                appeal_result=AppealResult.CONFIRMED,
                **answers,
            )
        with pytest.raises(DecisionRefused) as no_model:
            decisions.decide(
                ticket,
                remedies=[Remedy.MODEL_FIXED],
                fixed_in_version_id=None,
                facts="Facts.",
                measure="Measure.",
                policy_clause="Clause.",
                **answers,
            )
        status = ticket.status

    assert everything_wrong.value.problems == {
        "facts": DecisionRefused.NO_FACTS,
        "measure": DecisionRefused.NO_MEASURE,
        "policy_clause": DecisionRefused.NO_POLICY_CLAUSE,
        "remedies": DecisionRefused.NONE_WITH_OTHERS,
        "fixed_in_version_id": DecisionRefused.VERSION_WITHOUT_FIX,
        "appeal_result": DecisionRefused.NOT_AN_APPEAL,
        "language": DecisionRefused.UNKNOWN_LANGUAGE,
    }
    assert no_model.value.problems == {
        "remedies": DecisionRefused.NO_MODEL,
        "language": DecisionRefused.UNKNOWN_LANGUAGE,
    }
    assert status is Status.NEW
    assert decisions_of(app, report) == []


def test_a_statement_of_reasons_edited_afterwards_no_longer_matches_the_audit_log(
    app, agent, report
):
    decide(agent, report)

    with app.app_context():
        ticket = the_ticket(report.reference)
        [decision] = decisions.decisions_of(ticket)
        [decided] = [event for event in ticket.events if event.kind is EventKind.DECIDED]
        entry = db.session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action == "ticket.decided")
        ).one()
        recorded = json.loads(entry.payload)["detail"]["statement_hmac"]
        assert recorded == decided.detail["statement_hmac"]
        assert recorded == text_fingerprint(decisions.statement_text(decision))

        decision.facts = "Facts someone rewrote later."

        assert recorded != text_fingerprint(decisions.statement_text(decision))


def test_sending_the_same_decision_twice_keeps_one_and_says_it_was_sent(app, agent, report):
    page = agent.get(report.url).get_data(as_text=True)

    first = decide(agent, report, page=page)
    again = decide(agent, report, page=page)  # a double click: the same form, sent twice

    assert first.status_code == 303
    assert again.status_code == 303
    assert again.headers["Location"] == report.url
    assert "This decision has been sent." in text_of(agent.get(report.url))
    assert len(decisions_of(app, report)) == 1


def test_a_decision_on_a_form_older_than_someone_elses_change_is_refused(
    app, agent, colleague, report
):
    stale_page = agent.get(report.url).get_data(as_text=True)
    send(colleague, report, "classification", category="privacy", severity="")

    response = decide(agent, report, page=stale_page)

    page = text_of(response)
    assert response.status_code == 409
    assert CONFLICT in page
    assert re.search(rf'name="facts"[^>]*>\s*{re.escape(ANSWERS["facts"])}</textarea>', page)
    assert decisions_of(app, report) == []
    assert decide(agent, report, page=response.get_data(as_text=True)).status_code == 303


def test_a_report_of_another_team_is_not_found_and_nothing_is_decided(app, people, report):
    outsider = browser(app, "outsider@example.org")
    page = outsider.get("/staff/", follow_redirects=True).get_data(as_text=True)
    token = hidden_value(page, CSRF_PATTERN)

    response = outsider.post(
        f"{report.url}/decision", data={**ANSWERS, "csrf_token": token, "version": "1"}
    )

    assert response.status_code == 404
    assert decisions_of(app, report) == []


def test_a_report_waiting_for_the_reporter_is_not_decided(app, agent, report):
    send(agent, report, "request-information", question="Which app was it?")
    page = text_of(agent.get(report.url))

    response = decide(agent, report)

    assert "cannot be decided: change its status back to “Investigating” first" in page
    assert 'action="/staff/tickets/' + report.reference + '/decision"' not in page
    assert response.status_code == 200
    assert "This report cannot be decided now." in text_of(response)
    assert decisions_of(app, report) == []


def test_a_reason_template_of_the_team_fills_in_the_reasons(app, agent, report):
    with app.app_context():
        ours = db.session.scalar(sa.select(Team).where(Team.slug == "trust-safety"))
        theirs = db.session.scalar(sa.select(Team).where(Team.slug == "second-line"))
        templates = [
            ReasonTemplate(
                team=ours,
                outcome=Outcome.NOT_UPHELD,
                locale="fr",
                title="Conforme à la politique",
                facts="La réponse suivait la politique publiée.",
                measure="Aucun changement du modèle.",
                policy_clause="Politique d'utilisation, section 2",
            ),
            ReasonTemplate(
                team=theirs,
                outcome=Outcome.UPHELD,
                locale="en",
                title="Another team's",
                facts="Not for this team.",
                measure="None.",
                policy_clause="None.",
            ),
        ]
        db.session.add_all(templates)
        db.session.commit()
        ours_id, theirs_id = (template.id for template in templates)
    page = agent.get(report.url).get_data(as_text=True)

    chosen = text_of(agent.get(f"{report.url}?reason_template={ours_id}"))
    not_ours = text_of(agent.get(f"{report.url}?reason_template={theirs_id}"))
    response = decide(
        agent,
        report,
        page=chosen,
        outcome="not_upheld",
        remedies=["none"],
        facts="La réponse suivait la politique publiée.",
        language="fr",
    )

    assert options(page, "reason_template") == [str(ours_id)]
    assert re.search(
        r'name="facts"[^>]*>\s*La réponse suivait la politique publiée\.</textarea>', chosen
    )
    assert 'value="Politique d\'utilisation, section 2"' in chosen
    assert re.search(r'<option value="fr" selected>', chosen)
    assert re.search(r'checked[^>]*value="not_upheld"|value="not_upheld"[^>]*checked', chosen)
    assert "Not for this team." not in not_ours
    assert response.status_code == 303
    [decision] = decisions_of(app, report)
    assert (decision.outcome, decision.language) == (Outcome.NOT_UPHELD, "fr")


# -- appeals ------------------------------------------------------------------------------------


def test_the_person_whose_decision_is_under_appeal_cannot_answer_it_and_a_colleague_can(
    app, agent, colleague, people, report
):
    decided_and_appealed(app, agent, report, outcome="not_upheld", remedies=["none"])
    under_appeal = stored(app, report, lambda ticket: ticket.next_due_at)
    deciders_page = text_of(agent.get(report.url))
    colleagues_page = text_of(colleague.get(report.url))

    refused = decide(agent, report, outcome="not_upheld", appeal_result="decision_confirmed")
    answered = decide(
        colleague,
        report,
        outcome="not_upheld",
        remedies=["none"],
        appeal_result="decision_confirmed",
        facts="We looked at the screenshot: it shows the same answer.",
    )

    assert under_appeal is not None  # the appeal's own timers run
    assert "Answer the appeal" in deciders_page
    assert "You took the decision under appeal, so someone else in the team must" in deciders_page
    assert f'action="{report.url}/decision"' not in deciders_page
    assert APPEAL_REASON in colleagues_page
    assert f'action="{report.url}/decision"' in colleagues_page
    assert "Does the decision under appeal stand?" in colleagues_page
    assert refused.status_code == 200
    assert "You took the decision under appeal, so someone else must answer the appeal." in (
        text_of(refused)
    )
    assert answered.status_code == 303
    with app.app_context():
        ticket = the_ticket(report.reference)
        first, answer = decisions.decisions_of(ticket)
        [answered_appeal] = db.session.scalars(sa.select(Appeal)).all()
        assert ticket.status is Status.DECIDED
        assert ticket.next_due_at is None
        assert ticket.first_response_at == answer.decided_at  # the appeal's first response
        assert (first.decided_by_id, answer.decided_by_id) == (people.agent, people.colleague)
        assert answer.appeal_result is AppealResult.CONFIRMED
        assert answered_appeal.answer_id == answer.id
        assert decisions.open_appeal(ticket) is None
        [_, answered_event] = [e for e in ticket.events if e.kind is EventKind.DECIDED]
        assert answered_event.detail == {
            "decision_id": answer.id,
            "outcome": "not_upheld",
            "appeal_result": "decision_confirmed",
            "remedies": ["none"],
            "automated_means": answer.automated_means.value,
            "statement_hmac": text_fingerprint(decisions.statement_text(answer)),
        }


@pytest.mark.parametrize(
    ("answer", "field_id", "message"),
    [
        (
            {"appeal_result": "decision_reversed", "outcome": "not_upheld"},
            "outcome-0",
            "A reversed decision needs a different outcome from the decision under appeal",
        ),
        (
            {"appeal_result": "decision_confirmed", "outcome": "upheld"},
            "outcome-0",
            "A confirmed decision keeps the outcome of the decision under appeal: choose that "
            "outcome, or reverse the decision",
        ),
        (
            {"appeal_result": None, "outcome": "upheld"},
            "appeal_result-0",
            "Choose whether the decision is confirmed or reversed",
        ),
    ],
)
def test_a_confirmation_keeps_the_outcome_and_a_reversal_changes_it(
    app, agent, colleague, report, answer, field_id, message
):
    decided_and_appealed(app, agent, report, outcome="not_upheld", remedies=["none"])

    response = decide(colleague, report, **answer)

    page = text_of(response)
    assert response.status_code == 200
    assert summary_link(page, field_id, message), page
    assert len(decisions_of(app, report)) == 1
    assert stored(app, report, lambda ticket: ticket.status) is Status.APPEALED


def test_a_reversal_changes_the_reports_outcome_and_the_reporter_is_told(
    app, agent, colleague, report, smtp_port
):
    decided_and_appealed(app, agent, report, outcome="not_upheld", remedies=["none"])

    response = decide(colleague, report, appeal_result="decision_reversed", outcome="upheld")
    with smtp_server(smtp_port) as mailbox, app.app_context():
        deliver_due(SmtpSettings.from_config(app.config), now=utcnow())
        db.session.commit()
        current = decisions.current_decision(the_ticket(report.reference))

    assert response.status_code == 303
    assert (current.outcome, current.appeal_result) == (Outcome.UPHELD, AppealResult.REVERSED)
    page = text_of(colleague.get(report.url))
    assert re.search(r"Answer to the appeal\s*<strong class=\"tag tag--decided\">In force", page)
    assert "<strong>Decision reversed</strong>" in page
    first, answer = [mail for mail in mailbox.received if ANSWERS["facts"] in mail.body]
    assert "(Europe/Paris)" in first.body  # until when they may appeal
    assert "(Europe/Paris)" not in answer.body  # the appeal here is used up
    assert "Médiateur du numérique" in answer.body  # the route outside stays open


# -- who works on an appeal ---------------------------------------------------------------------


def test_the_person_whose_decision_is_under_appeal_cannot_be_assigned_it(
    app, agent, colleague, people, report
):
    decided_and_appealed(app, agent, report)
    colleagues_page = colleague.get(report.url).get_data(as_text=True)
    deciders_page = agent.get(report.url).get_data(as_text=True)

    with app.app_context():
        ticket = the_ticket(report.reference)
        decider = db.session.get(StaffUser, people.agent)
        other = db.session.get(StaffUser, people.colleague)
        with pytest.raises(CaseworkRefused) as refusal:
            casework.assign(ticket, decider, staff=other, now=utcnow())
        casework.assign(ticket, other, staff=other, now=utcnow())
        db.session.commit()
        assignee = ticket.assignee_id

    assert str(people.agent) not in options(colleagues_page, "assignee")
    assert str(people.colleague) in options(colleagues_page, "assignee")
    assert 'name="claim"' not in deciders_page
    assert refusal.value.reason == CaseworkRefused.ORIGINAL_DECIDER
    assert assignee == people.colleague


def test_a_bulk_assignment_to_the_person_whose_decision_is_under_appeal_is_refused(
    app, agent, people, report
):
    other_report = file_report(app)
    decided_and_appealed(app, agent, report)

    with app.app_context():
        tickets = [the_ticket(report.reference), the_ticket(other_report.reference)]
        decider = db.session.get(StaffUser, people.agent)
        outcome = queue.apply_bulk_action(
            {ticket.id: ticket.row_version for ticket in tickets},
            queue.BulkAction(queue.BulkKind.ASSIGN, assignee=decider),
            staff=decider,
            now=utcnow(),
            visible_team_ids=None,
        )
        db.session.commit()
        assignees = [ticket.assignee_id for ticket in tickets]

    assert outcome.refused == {CaseworkRefused.ORIGINAL_DECIDER: [report.reference]}
    assert outcome.changed == [other_report.reference]
    assert assignees == [None, people.agent]


def test_an_appeal_held_by_its_decider_is_handed_to_someone_else_automatically(
    app, agent, people, report
):
    busy = [file_report(app), file_report(app)]
    with app.app_context():
        for held in busy:
            colleague = db.session.get(StaffUser, people.colleague)
            casework.assign(the_ticket(held.reference), colleague, staff=None, now=utcnow())
        ticket = the_ticket(report.reference)
        casework.assign(ticket, db.session.get(StaffUser, people.agent), staff=None, now=utcnow())
        db.session.scalar(sa.select(Team).where(Team.slug == "trust-safety")).auto_assign = True
        db.session.commit()
    decided_and_appealed(app, agent, report)

    with app.app_context():
        ticket = the_ticket(report.reference)
        # The decider holds one report (this one), the colleague two: the decider is the least
        # busy, and only the appeal keeps them from it.
        least_busy = assignment.least_busy_speaker(ticket.team_id, ticket.locale).id
        assignment.hand_over_appeal(ticket, now=utcnow())
        db.session.commit()
        reasons = [
            (event.detail["to"], event.detail.get("reason"))
            for event in ticket.events
            if event.kind is EventKind.ASSIGNED
        ]

    assert least_busy == people.agent
    assert reasons[-2:] == [(None, "appeal_review"), (people.colleague, "auto")]
    page = text_of(browser(app, "colleague@example.org").get(report.url))
    assert "took the decision under appeal, and someone else reviews it" in page


# -- the appeal deadline ----------------------------------------------------------------------


def test_the_appeal_deadline_is_the_end_of_the_reporters_day_six_months_on():
    # 23:30 UTC on 27 November is already 28 November in Paris; 183 days later is 30 May,
    # which ends at midnight Paris summer time: 22:00 UTC.
    told = datetime(2026, 11, 27, 23, 30, tzinfo=UTC)

    deadline = decisions.appeal_deadline(told, timezone="Europe/Paris", window=timedelta(183))

    assert deadline == datetime(2027, 5, 30, 22, 0, tzinfo=UTC)
    assert decisions.appeal_deadline(told, timezone="Not/AZone", window=timedelta(1)) == (
        datetime(2026, 11, 29, 0, 0, tzinfo=UTC)  # an unknown zone counts as UTC
    )


def test_a_decision_keeps_the_appeal_deadline_its_reporter_was_told(app, agent, report):
    decide(agent, report)
    app.config["PORTAL_APPEAL_WINDOW_DAYS"] = 30  # shortened afterwards

    with app.app_context():
        ticket = the_ticket(report.reference)
        [decision] = decisions.decisions_of(ticket)
        told = decisions.appeal_deadline(
            decision.decided_at, timezone=ticket.timezone, window=timedelta(days=183)
        )
        assert decision.appealable_until == told
        assert decisions.appealable_until(decision, window=timedelta(days=30)) == told
