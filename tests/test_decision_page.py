"""What a reporter sees of the decision on their report: on the tracking page, in their language,
with the staff's own words marked as written, and on a record made to be printed or saved."""

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo

from portal.clock import utcnow
from portal.config import PROJECT_ROOT
from portal.extensions import babel, db
from portal.models import (
    Actor,
    Appeal,
    AppealResult,
    AutomatedMeans,
    Decision,
    ModelVersion,
    Outcome,
    Remedy,
    Status,
    Ticket,
)
from portal.services.status import transition
from tests.factories import make_staff, make_ticket
from tests.test_tracking import Report, csrf_token, page_text, shown_status

FACTS = "The assistant gave instructions that produce a toxic gas."
MEASURE = "We corrected the answer for every user of Aurora Chat 3.0."
CLAUSE = "Usage policy, section 4.2: dangerous instructions"
OUTSIDE = {"name": "the Consumer Redress Board", "url": "https://redress-board.example.org/"}


@pytest.fixture
def app_config(app_config):
    app_config["PORTAL_OUTSIDE_REDRESS"] = OUTSIDE
    return app_config


@pytest.fixture
def decider(app) -> int:
    return make_staff(app, email="decider@example.org", name="Dana Decider")


def ticket_of(reference: str) -> Ticket:
    return db.session.scalar(sa.select(Ticket).where(Ticket.reference == reference))


def make_decision(
    app, reference: str, *, decided_by: int, decided_at=None, status=Status.DECIDED, **fields
) -> int:
    """Staff decide the report at ``decided_at`` (now by default), as the decision action does:
    the ticket moves on to decided (then to ``status``) and gets its Decision. Commits; returns
    the decision's id."""
    when = decided_at or utcnow()
    with app.app_context():
        ticket = ticket_of(reference)
        for step in (Status.TRIAGED, Status.INVESTIGATING, Status.DECIDED):
            transition(ticket, step, now=when, actor=Actor.STAFF)
        if status is Status.CLOSED:
            transition(ticket, Status.CLOSED, now=when, actor=Actor.STAFF)
        values = {
            "outcome": Outcome.PARTLY_UPHELD,
            "remedies": [Remedy.OUTPUT_CORRECTED.value],
            "facts": FACTS,
            "measure": MEASURE,
            "automated_means": AutomatedMeans.DETECTION,
            "policy_clause": CLAUSE,
            "language": "en",
        }
        values.update(fields)
        decision = Decision(ticket=ticket, decided_by_id=decided_by, decided_at=when, **values)
        db.session.add(decision)
        db.session.commit()
        return decision.id


def answer_appeal(app, reference: str, *, decided_by: int, result: AppealResult, **fields) -> None:
    """A colleague answers the report's appeal with a decision of its own. Commits."""
    now = utcnow()
    with app.app_context():
        ticket = ticket_of(reference)
        appeal = db.session.scalar(sa.select(Appeal).where(Appeal.ticket_id == ticket.id))
        transition(ticket, Status.DECIDED, now=now, actor=Actor.STAFF)
        values = {
            "outcome": Outcome.UPHELD,
            "remedies": [Remedy.CONTENT_REMOVED.value],
            "facts": "On review, the answer was dangerous for everyone who asked.",
            "measure": "We blocked the answer everywhere.",
            "automated_means": AutomatedMeans.NONE,
            "policy_clause": CLAUSE,
            "language": "en",
        }
        values.update(fields)
        appeal.answer = Decision(
            ticket=ticket, decided_by_id=decided_by, decided_at=now, appeal_result=result, **values
        )
        db.session.commit()


@pytest.fixture
def report(app) -> Report:
    """A report from someone in New York."""
    with app.app_context():
        ticket, token = make_ticket(app, timezone="America/New_York")
        db.session.commit()
        return Report(ticket.reference, token)


@pytest.fixture
def reporter(client, report):
    """A browser that has opened the report's tracking link."""
    assert client.get(report.tracking_url).status_code == 303
    return client


def written_by_staff(page: str, language: str) -> list[str]:
    """The texts shown as staff wrote them, marked with ``language``."""
    return re.findall(rf'<p class="preserve-lines" lang="{language}" dir="auto">([^<]*)</p>', page)


def in_new_york(moment) -> str:
    local = moment.astimezone(ZoneInfo("America/New_York"))
    return f"{local:%B} {local.day}, {local.year}"


# -- the tracking page --------------------------------------------------------------------------


def test_a_decided_report_shows_the_decision_its_reasons_and_the_options(
    app, reporter, report, decider
):
    decision_id = make_decision(app, report.reference, decided_by=decider)
    with app.app_context():
        decided_at = db.session.get(Decision, decision_id).decided_at

    page = page_text(reporter.get(report.case_url))

    assert shown_status(page) == "Decided"
    assert "Our decision" in page
    assert '<strong class="tag">Partly upheld</strong>' in page
    assert "<li>The output was corrected</li>" in page
    assert written_by_staff(page, "en") == [FACTS, MEASURE, CLAUSE]
    assert "Automated means were used to detect the problem" in page
    assert "The reasons were written in" not in page  # written in the page's language
    appeal_until = in_new_york(decided_at + timedelta(days=183))
    assert re.search(rf"You can appeal until {appeal_until}[^<]+\(America/New_York\)", page)
    assert f'href="{report.case_url}/appeal">Appeal this decision</a>' in page
    assert f'<a href="{OUTSIDE["url"]}" rel="noopener noreferrer">{OUTSIDE["name"]}</a>' in page
    assert f'href="{report.case_url}/decision">Print or save this decision</a>' in page


def test_a_report_not_yet_decided_shows_no_decision(reporter, report):
    page = page_text(reporter.get(report.case_url))

    assert "Our decision" not in page
    assert "Print or save this decision" not in page
    assert "/appeal" not in page


def test_a_fix_in_a_model_version_names_the_version(app, registry, client, decider):
    with app.app_context():
        version = db.session.scalar(sa.select(ModelVersion).where(ModelVersion.version == "3.0"))
        ticket, token = make_ticket(
            app, model_id=registry["aurora-chat"], model_version_id=version.id
        )
        db.session.commit()
        report, version_id = Report(ticket.reference, token), version.id
    make_decision(
        app,
        report.reference,
        decided_by=decider,
        outcome=Outcome.UPHELD,
        remedies=[Remedy.MODEL_FIXED.value, Remedy.APOLOGY.value],
        fixed_in_version_id=version_id,
        remedy_details="The fix reached every user on 2 December.",
    )
    client.get(report.tracking_url)

    page = page_text(client.get(report.case_url))

    assert "<li>The model's behaviour was fixed in Aurora Chat version 3.0</li>" in page
    assert "<li>An apology</li>" in page
    assert written_by_staff(page, "en")[0] == "The fix reached every user on 2 December."


def test_reasons_written_in_another_language_are_marked_and_introduced(
    app, reporter, report, decider
):
    facts = "La réponse expliquait comment produire un gaz toxique."
    make_decision(app, report.reference, decided_by=decider, language="fr", facts=facts)

    page = page_text(reporter.get(report.case_url))

    assert "The reasons were written in French." in page
    assert written_by_staff(page, "fr")[0] == facts


# Fixed parts of a decision in French, for the test below alone (the project's catalogue gets
# them when the new strings are extracted and translated); read after the project's catalogue.
FRENCH = {
    "Our decision": "Notre décision",
    "Statement of reasons": "Exposé des motifs",
    "Partly upheld": "Partiellement fondé",
    "The output was corrected": "La réponse a été corrigée",
    "Automated means were used to detect the problem": (
        "Des moyens automatisés ont servi à détecter le problème"
    ),
    "The reasons were written in %(language)s. They are shown here as they were written.": (
        "Les motifs ont été rédigés en %(language)s. Ils sont reproduits tels quels."
    ),
}


@pytest.fixture
def french_fixed_parts(app_config, tmp_path):
    """The French catalogue with ``FRENCH`` added. Request before ``app``."""
    catalog = Catalog(locale="fr")
    for message, translation in FRENCH.items():
        catalog.add(message, translation)
    folder = tmp_path / "translations" / "fr" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with (folder / "messages.mo").open("wb") as mo_file:
        write_mo(mo_file, catalog)
    app_config["BABEL_TRANSLATION_DIRECTORIES"] = (
        f"{PROJECT_ROOT / 'translations'};{tmp_path / 'translations'}"
    )
    # Flask-Babel keeps the catalogues it loaded for the whole process, whichever app asked.
    babel.domain_instance.cache.clear()
    yield
    babel.domain_instance.cache.clear()


def test_a_french_reporter_reads_the_fixed_parts_in_french_and_the_reasons_as_written(
    french_fixed_parts, app, reporter, report, decider
):
    make_decision(app, report.reference, decided_by=decider, language="en")
    reporter.set_cookie("portal_locale", "fr", domain="redress.test")

    page = page_text(reporter.get(report.case_url))

    assert '<html lang="fr" dir="ltr">' in page
    for translation in ("Notre décision", "Exposé des motifs", "Partiellement fondé"):
        assert translation in page
    assert "<li>La réponse a été corrigée</li>" in page
    assert "Des moyens automatisés ont servi à détecter le problème" in page
    assert "Les motifs ont été rédigés en anglais. Ils sont reproduits tels quels." in page
    assert written_by_staff(page, "en") == [FACTS, MEASURE, CLAUSE]


# -- after an appeal ----------------------------------------------------------------------------


def appeal_through_the_page(reporter, report, reason="The fix does not cover the mobile app."):
    appeal_url = f"{report.case_url}/appeal"
    data = {"csrf_token": csrf_token(reporter, appeal_url), "reason": reason}
    response = reporter.post(appeal_url, data=data)
    assert response.status_code == 303
    return response


def test_an_appeal_under_review_shows_when_it_was_made_and_when_the_answer_is_due(
    app, reporter, report, decider
):
    make_decision(app, report.reference, decided_by=decider)
    appeal_through_the_page(reporter, report)
    with app.app_context():
        ticket = ticket_of(report.reference)
        appealed_at, due = ticket.appealed_at, ticket.resolve_due_at

    page = page_text(reporter.get(report.case_url))

    assert "Your appeal is being reviewed" in page
    assert re.search(rf"<dt>Appealed</dt>\s*<dd>{in_new_york(appealed_at)}[^<]+</dd>", page)
    assert f"with our reasons, by {in_new_york(due)}" in page
    assert "The fix does not cover the mobile app." in page
    assert f'href="{report.case_url}/appeal"' not in page
    assert "we are reviewing your appeal, so you cannot appeal it again here" in page
    assert OUTSIDE["url"] in page


@pytest.mark.parametrize("result", list(AppealResult))
def test_an_answered_appeal_shows_the_answer_and_leaves_only_the_outside_route(
    app, reporter, report, decider, result
):
    make_decision(app, report.reference, decided_by=decider)
    appeal_through_the_page(reporter, report)
    colleague = make_staff(app, email="reviewer@example.org", name="Rae Reviewer")
    answer_appeal(app, report.reference, decided_by=colleague, result=result)

    page = page_text(reporter.get(report.case_url))

    assert "Our decision on your appeal" in page
    assert f'<strong class="tag">{result.label}</strong>' in page
    assert "On review, the answer was dangerous for everyone who asked." in page
    assert "Your appeal is being reviewed" not in page
    assert "You have already appealed, and we have answered your appeal." in page
    assert f'href="{report.case_url}/appeal"' not in page
    assert OUTSIDE["url"] in page


# -- the record to print or save ----------------------------------------------------------------


def test_the_decision_record_names_the_report_and_is_made_for_print(app, registry, client, decider):
    with app.app_context():
        ticket, token = make_ticket(app, model_id=registry["aurora-chat"])
        db.session.commit()
        report, sent = Report(ticket.reference, token), ticket.created_at
    make_decision(app, report.reference, decided_by=decider)
    client.get(report.tracking_url)

    response = client.get(f"{report.case_url}/decision")

    assert response.status_code == 200
    page = page_text(response)
    assert '<link rel="stylesheet" href="/static/css/print.css" media="print">' in page
    assert f"Decision on report {report.reference}" in page
    assert "Report harm caused by an AI output" in page
    assert "Aurora Chat" in page
    local_sent = sent.astimezone(ZoneInfo("Europe/London"))
    assert f"{local_sent:%B} {local_sent.day}, {local_sent.year}" in page
    assert written_by_staff(page, "en") == [FACTS, MEASURE, CLAUSE]
    assert "Your options" in page
    stylesheet = client.get("/static/css/print.css")
    assert stylesheet.status_code == 200
    assert b".site-header" in stylesheet.data
    stylesheet.close()


def test_the_decision_record_of_a_report_not_yet_decided_leads_back_to_the_tracking_page(
    reporter, report
):
    response = reporter.get(f"{report.case_url}/decision")

    assert response.status_code == 303
    assert response.headers["Location"].endswith(report.case_url)
    page = page_text(reporter.get(report.case_url))
    assert "There is no decision on your report yet." in page


def test_the_decision_record_is_only_for_the_reporter(app, client, report, decider):
    make_decision(app, report.reference, decided_by=decider)

    response = client.get(f"{report.case_url}/decision")

    assert response.status_code == 404
    assert FACTS not in page_text(response)
