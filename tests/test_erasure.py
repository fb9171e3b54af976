"""A reporter erases their data: from the tracking page, confirmed by a link e-mailed to the
address on the report when there is one. Their name, address, everything they and staff wrote
and their files go; the structured labels stay for the statistics; the audit log still
verifies, and never held any of it in clear."""

import io
import json
import logging
import re
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from itsdangerous import TimestampSigner

from portal.clock import utcnow
from portal.extensions import db
from portal.models import (
    Actor,
    Appeal,
    Attachment,
    AutomatedMeans,
    Category,
    Decision,
    EventKind,
    ExportFormat,
    OutboxMessage,
    OutboxStatus,
    Outcome,
    Remedy,
    Severity,
    StaffUser,
    Status,
    Ticket,
    TicketKind,
)
from portal.services import appeals, casework, decisions, links
from portal.services.attachments import store_evidence
from portal.services.erasure import delete_evidence, erase, request_erasure
from portal.services.errors import CaseworkRefused, InvalidTransition
from portal.services.exports import run_export
from portal.services.feedback import FeedbackFilters
from portal.services.links import LinkPurpose
from portal.services.outbox import SmtpSettings, deliver_due
from portal.services.status import transition
from portal.services.tickets import add_information, withdraw
from tests.factories import make_staff, make_submission, make_ticket, route_everything_to
from tests.reporting import DISPUTE, complete_answers, files_on_disk, open_form, send
from tests.signing_in import sign_in
from tests.test_decision_page import ticket_of
from tests.test_outbox import free_port, smtp_server
from tests.test_tracking import TRACK_LINK, Report, csrf_token, page_text

ERASE_LINK = re.compile(r"http://redress\.test(/reports/erase/\S+)")
# The stand-in for the outside mail server logs what it receives, as a real one would: those
# records are the recipient's, not the portal's.
OUTSIDE_MAIL_SERVER_LOGGERS = ("mail.log", "mail.debug")


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def app_config(app_config, smtp_port):
    app_config.update(
        PORTAL_SMTP_HOST="127.0.0.1", PORTAL_SMTP_PORT=smtp_port, PORTAL_SMTP_TIMEOUT=5
    )
    return app_config


@pytest.fixture
def agent(app) -> int:
    return make_staff(app, email="agent@example.org", name="Ada Agent")


@pytest.fixture
def reviewer(app) -> int:
    return make_staff(app, email="reviewer@example.org", name="Rita Reviewer")


def canaries() -> dict[str, str]:
    """A distinct, unmistakable value for every place personal data or free text goes."""
    run = uuid.uuid4().hex
    names = [
        "name",
        "model-not-listed",
        "output-id",
        "output",
        "input",
        "description",
        "impact",
        "requested-outcome",
        "expected-output",
        "first-file-name",
        "first-file-content",
        "information",
        "information-file-name",
        "information-file-content",
        "reply",
        "note",
        "facts",
        "measure",
        "remedy-details",
        "appeal",
    ]
    planted = {name: f"CANARY-{name}-{run}" for name in names}
    planted["email"] = f"canary.{run}@example.org"
    return planted


def report_with_canaries(app, client, registry, planted: dict, *, with_email: bool) -> Report:
    """A dispute sent through the form with a canary in every answer and in its evidence, to
    which the reporter adds information and a file, staff reply (quoting the reporter) and
    note, a decision is taken and appealed. ``client`` follows it; returns the report."""
    answers = complete_answers(
        registry,
        DISPUTE,
        model_choice="not_listed",
        model_not_listed=planted["model-not-listed"],
        output_id=planted["output-id"],
        output_text=planted["output"],
        input_text=planted["input"],
        description=planted["description"],
        impact=planted["impact"],
        requested_outcome=planted["requested-outcome"],
        expected_output=planted["expected-output"],
        occurred_on="2026-10-01",
        reporter_name=planted["name"],
        contact_email=planted["email"] if with_email else None,
        consent_contact="y" if with_email else None,
        consent_training="y",
    )
    evidence = [(f"{planted['first-file-name']}.txt", planted["first-file-content"].encode())]
    response = send(client, open_form(client, DISPUTE), answers, files=evidence)
    assert response.status_code == 303
    token = TRACK_LINK.search(page_text(client.get("/reports/confirmation"))).group(1)
    with app.app_context():
        reference = db.session.scalar(
            sa.select(Ticket.reference).where(Ticket.description == planted["description"])
        )
    report = Report(reference, token)

    information = {
        "csrf_token": csrf_token(client, report.case_url),
        "text": planted["information"],
        "evidence": (
            io.BytesIO(planted["information-file-content"].encode()),
            f"{planted['information-file-name']}.txt",
        ),
    }
    assert client.post(f"{report.case_url}/information", data=information).status_code == 303
    return report


def staff_work_on(app, reference: str, planted: dict, *, agent: int, reviewer: int) -> None:
    """A reply and a note quoting the reporter, a decision with reasons, and the reporter's
    appeal against it, through the services the staff and reporter pages call."""
    with app.app_context():
        ticket, now = ticket_of(reference), utcnow()
        staff = db.session.get(StaffUser, agent)
        casework.reply(
            ticket,
            f"You wrote “{planted['description']}”; we are looking into it. {planted['reply']}",
            staff=staff,
            now=now,
            lost_link_url=lambda: "http://redress.test/reports/lost-link",
        )
        casework.add_note(
            ticket, f"Reporter quotes {planted['output']}. {planted['note']}", staff=staff, now=now
        )
        db.session.commit()
    deliver_everything_due(app)  # the confirmation and the reply are sent
    with app.app_context():
        ticket, now = ticket_of(reference), utcnow()
        decisions.decide(
            ticket,
            outcome=Outcome.PARTLY_UPHELD,
            remedies=[Remedy.OUTPUT_CORRECTED, Remedy.APOLOGY],
            remedy_details=planted["remedy-details"],
            fixed_in_version_id=None,
            facts=f"{planted['facts']}, as {planted['name']} told us",
            measure=planted["measure"],
            automated_means=AutomatedMeans.DETECTION,
            policy_clause="Usage policy, section 4.2",
            language="en",
            staff=db.session.get(StaffUser, reviewer),
            now=now,
            lost_link_url=lambda: "http://redress.test/reports/lost-link",
        )
        db.session.commit()  # the decision's e-mail stays pending
        appeals.appeal(
            ticket,
            reason=planted["appeal"],
            files=[],
            now=utcnow(),
            window=appeals.configured_window(),
        )
        db.session.commit()


def deliver_everything_due(app) -> None:
    with app.app_context(), smtp_server(app.config["PORTAL_SMTP_PORT"]):
        deliver_due(SmtpSettings.from_config(app.config), now=utcnow())
        db.session.commit()


def everything_stored(app) -> str:
    """Every value of every row of every table (the audit log's included), as one text."""
    with app.app_context():
        return "\n".join(
            repr(tuple(row))
            for table in db.metadata.sorted_tables
            for row in db.session.execute(sa.select(table))
        )


def everything_on_disk(app) -> str:
    """The name and content of every file under the upload folder."""
    folder = Path(app.config["PORTAL_UPLOAD_DIR"])
    paths = sorted(folder.rglob("*")) if folder.exists() else []
    return "\n".join(
        f"{path.name}\n{path.read_bytes().decode(errors='replace')}"
        for path in paths
        if path.is_file()
    )


def everything_logged(records: list[logging.LogRecord]) -> str:
    return "\n".join(
        f"{record.getMessage()}\n{record.args!r}\n{record.exc_text or ''}"
        for record in records
        if record.name not in OUTSIDE_MAIL_SERVER_LOGGERS
    )


def export_in(app, fmt: ExportFormat, folder: Path) -> dict:
    """Export every consented report in ``fmt`` into ``folder``, as the command line does."""
    with app.app_context():
        manifest = run_export(
            filters=FeedbackFilters(), fmt=fmt, out_dir=folder, actor=("cli", None), now=utcnow()
        )
        db.session.commit()
        return manifest


def exported_record_ids(app, folder: Path) -> list[str]:
    export_in(app, ExportFormat.JSONL, folder)
    lines = (folder / "records.jsonl").read_text().splitlines()
    return [json.loads(line)["record_id"] for line in lines]


def erase_from_the_tracking_page(client, report: Report):
    token = csrf_token(client, f"{report.case_url}/erase")
    return client.post(f"{report.case_url}/erase", data={"csrf_token": token, "confirm": "y"})


def confirmation_link(app) -> str:
    """The path of the erasure link in the confirmation e-mail waiting in the outbox."""
    with app.app_context():
        body = db.session.scalar(
            sa.select(OutboxMessage.body).where(OutboxMessage.subject.contains("erasure"))
        )
    return ERASE_LINK.search(body).group(1)


def confirm_erasure(client, link: str):
    return client.post(link, data={"csrf_token": csrf_token(client, link)})


# -- the whole flow: nothing left anywhere ------------------------------------------------------


@pytest.mark.parametrize("with_email", [True, False], ids=["confirmed-by-email", "no-address"])
def test_erasure_leaves_no_trace_of_the_reporter_anywhere_and_keeps_the_statistics(
    app, client, registry, agent, reviewer, caplog, with_email, tmp_path
):
    caplog.set_level(logging.DEBUG)  # every logger that defers to the root's level
    planted = canaries()
    report = report_with_canaries(app, client, registry, planted, with_email=with_email)
    staff_work_on(app, report.reference, planted, agent=agent, reviewer=reviewer)
    held = everything_stored(app) + everything_on_disk(app)
    assert all(value in held for name, value in planted.items() if with_email or name != "email")
    if with_email:
        with app.app_context():
            statuses = db.session.scalars(sa.select(OutboxMessage.status)).all()
        assert {OutboxStatus.SENT, OutboxStatus.PENDING} <= set(statuses)

    # A product team took the report before the erasure (with consent: its redacted text).
    [exported_before] = exported_record_ids(app, tmp_path / "before")

    response = erase_from_the_tracking_page(client, report)
    if with_email:
        assert response.status_code == 303
        assert "Check your e-mail" in page_text(client.get(response.headers["Location"]))
        response = confirm_erasure(client, confirmation_link(app))

    assert response.status_code == 303
    assert "Your data has been erased" in page_text(client.get(response.headers["Location"]))
    old_link = client.get(report.tracking_url)
    assert old_link.status_code == 404
    assert "This tracking link does not work" in page_text(old_link)
    assert client.get(report.case_url).status_code == 404

    stored, on_disk = everything_stored(app), everything_on_disk(app)
    logged = everything_logged(caplog.records)
    for name, value in planted.items():
        assert value not in stored, f"the {name} canary is still in the database"
        assert value not in on_disk, f"the {name} canary is still in a stored file"
        assert value not in logged, f"the {name} canary was logged"
    assert files_on_disk(app) == []
    # Every export format made afterwards: nothing of the reporter, and the record the team
    # took before is listed for deletion.
    for fmt in ExportFormat:
        folder = tmp_path / f"after-{fmt.value}"
        manifest = export_in(app, fmt, folder)
        exported = "\n".join(
            path.read_bytes().decode("utf-8", "replace")
            for path in folder.rglob("*")
            if path.is_file()
        )
        for name, value in planted.items():
            assert value not in exported, f"the {name} canary is in the {fmt.value} export"
        assert manifest["counts"]["records"] == 0, fmt
        assert exported_before in (folder / "tombstones.txt").read_text().split()

    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output

    with app.app_context():
        ticket = ticket_of(report.reference)
        assert ticket is not None
        assert (ticket.kind, ticket.category, ticket.reporter_severity) == (
            TicketKind.OUTPUT_DISPUTE,
            Category.DANGEROUS_INSTRUCTIONS,
            Severity.HIGH,
        )
        assert ticket.status is Status.WITHDRAWN  # it was under appeal: the review stops
        assert ticket.next_due_at is None
        assert ticket.erased_at is not None
        [decision] = db.session.scalars(sa.select(Decision).where(Decision.ticket_id == ticket.id))
        assert decision.outcome is Outcome.PARTLY_UPHELD
        assert decision.remedy_members == [Remedy.OUTPUT_CORRECTED, Remedy.APOLOGY]
        assert decision.policy_clause == "Usage policy, section 4.2"
        [appeal] = db.session.scalars(sa.select(Appeal).where(Appeal.ticket_id == ticket.id))
        assert appeal.decision_id == decision.id
        kinds = [event.kind for event in ticket.events]
        assert kinds.count(EventKind.ERASED) == 1
        assert (EventKind.ERASURE_REQUESTED in kinds) is with_email
        erased = next(event for event in ticket.events if event.kind is EventKind.ERASED)
        assert (erased.actor, erased.is_public, erased.detail) == (
            Actor.REPORTER,
            False,
            {"files": 2},
        )


# -- the confirmation link ----------------------------------------------------------------------


@pytest.fixture
def followed(app, client) -> Report:
    """A report with an address, whose tracking link ``client`` has opened."""
    with app.app_context():
        ticket, token = make_ticket(app, contact_email="ana@example.org", reporter_name="Ana")
        db.session.commit()
        report = Report(ticket.reference, token)
    assert client.get(report.tracking_url).status_code == 303
    return report


def erased_at(app, report: Report):
    with app.app_context():
        return ticket_of(report.reference).erased_at


def link_signed_hours_ago(app, report: Report, hours: int) -> str:
    """The confirmation link as the portal would have signed it ``hours`` ago."""

    class SignedEarlier(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - hours * 3600

    with app.app_context():
        serializer = links._serializer(LinkPurpose.ERASURE)
        serializer.signer = SignedEarlier
        ticket = ticket_of(report.reference)
        return f"/reports/erase/{serializer.dumps([ticket.id, ticket.tracking_version])}"


def test_the_confirmation_email_says_what_goes_and_what_stays_and_carries_a_private_link(
    app, client, followed
):
    response = erase_from_the_tracking_page(client, followed)

    assert response.headers["Location"].endswith(f"{followed.case_url}/erase/requested")
    assert erased_at(app, followed) is None
    with app.app_context():
        message = db.session.scalars(sa.select(OutboxMessage)).all()[-1]
        assert message.to_address == "ana@example.org"
        assert (
            message.subject == f"Confirm the erasure of your data from report {followed.reference}"
        )
        assert message.carries_secret  # scrubbed once delivered
        assert ERASE_LINK.search(message.body)
        assert "everything you wrote" in message.body
        assert "We keep only the facts that cannot identify you" in message.body
        assert "The link works for 72 hours." in message.body
        assert "nothing is erased unless you confirm" in message.body
        ticket = ticket_of(followed.reference)
        requested = ticket.events[-1]
        assert (requested.kind, requested.actor, requested.is_public, requested.body) == (
            EventKind.ERASURE_REQUESTED,
            Actor.REPORTER,
            True,
            None,
        )


def test_opening_the_confirmation_link_erases_nothing_until_the_button_is_pressed(
    app, client, followed
):
    erase_from_the_tracking_page(client, followed)
    link = confirmation_link(app)

    page = client.get(link)

    assert page.status_code == 200
    assert "Confirm the erasure of your data" in page_text(page)
    assert erased_at(app, followed) is None
    assert client.get(followed.case_url).status_code == 200  # the report is still followed


def test_a_forged_confirmation_link_shows_the_link_page_and_erases_nothing(app, client, followed):
    erase_from_the_tracking_page(client, followed)
    link = confirmation_link(app)
    forged = link[:-4] + ("AAAA" if not link.endswith("AAAA") else "BBBB")

    opened = client.get(forged)
    pressed = client.post(forged, data={"csrf_token": csrf_token(client, followed.case_url)})

    for response in (opened, pressed):
        assert response.status_code == 404
        assert "This link does not work" in page_text(response)
    assert erased_at(app, followed) is None


def test_a_confirmation_link_past_its_hours_shows_the_link_page_and_erases_nothing(
    app, client, followed
):
    in_time = link_signed_hours_ago(app, followed, 71)
    too_late = link_signed_hours_ago(app, followed, 73)

    assert client.get(in_time).status_code == 200  # signed as the portal signs them
    opened = client.get(too_late)
    pressed = client.post(too_late, data={"csrf_token": csrf_token(client, in_time)})

    for response in (opened, pressed):
        assert response.status_code == 404
        assert "This link does not work" in page_text(response)
    assert erased_at(app, followed) is None


def test_pressing_the_button_again_after_the_erasure_is_refused_calmly(app, client, followed):
    erase_from_the_tracking_page(client, followed)
    link = confirmation_link(app)
    token = csrf_token(client, link)
    assert client.post(link, data={"csrf_token": token}).status_code == 303
    erased = erased_at(app, followed)

    again = client.post(link, data={"csrf_token": token})

    assert again.status_code == 404
    assert "This link does not work" in page_text(again)
    assert erased_at(app, followed) == erased


def test_a_new_tracking_link_ends_the_confirmation_link_sent_before_it(app, client, followed):
    erase_from_the_tracking_page(client, followed)
    link = confirmation_link(app)
    with app.app_context():
        ticket = ticket_of(followed.reference)
        ticket.tracking_version += 1  # as "lost your link?" does
        db.session.commit()

    assert client.get(link).status_code == 404
    assert erased_at(app, followed) is None


# -- the service --------------------------------------------------------------------------------


def test_without_an_address_no_confirmation_is_asked_for_or_recorded(app):
    with app.app_context():
        ticket, _token = make_ticket(app)
        db.session.commit()
        events = len(ticket.events)

        assert request_erasure(ticket, now=utcnow()) is False

        assert len(ticket.events) == events
        assert db.session.scalars(sa.select(OutboxMessage)).all() == []


def test_erasing_an_open_report_withdraws_it_and_stops_its_clocks(app):
    with app.app_context():
        ticket, _token = make_ticket(app, reporter_name="Ana Reporter")
        db.session.commit()
        assert ticket.next_due_at is not None

        erase(ticket, now=utcnow(), by=Actor.REPORTER)
        db.session.commit()

        assert ticket.status is Status.WITHDRAWN
        assert ticket.closed_at is not None
        assert ticket.next_due_at is None
        withdrawn = next(e for e in ticket.events if e.to_status is Status.WITHDRAWN)
        assert withdrawn.actor is Actor.REPORTER


def test_a_decided_report_keeps_its_status_when_erased(app, reviewer):
    with app.app_context():
        ticket, _token = make_ticket(app)
        decisions.decide(
            ticket,
            outcome=Outcome.NOT_UPHELD,
            remedies=[Remedy.NONE],
            remedy_details=None,
            fixed_in_version_id=None,
            facts="The answer was right.",
            measure="None.",
            automated_means=AutomatedMeans.NONE,
            policy_clause="Usage policy, section 1",
            language="en",
            staff=db.session.get(StaffUser, reviewer),
            now=utcnow(),
            lost_link_url=lambda: "",
        )
        db.session.commit()

        erase(ticket, now=utcnow(), by=Actor.REPORTER)
        db.session.commit()

        assert ticket.status is Status.DECIDED
        [decision] = decisions.decisions_of(ticket)
        assert (decision.facts, decision.measure, decision.outcome) == ("", "", Outcome.NOT_UPHELD)


def test_erasing_twice_changes_nothing_the_second_time(app):
    with app.app_context():
        ticket, _token = make_ticket(app)
        erase(ticket, now=utcnow(), by=Actor.REPORTER)
        db.session.commit()
        erased, version, events = ticket.erased_at, ticket.tracking_version, len(ticket.events)

        assert erase(ticket, now=utcnow() + timedelta(days=1), by=Actor.SYSTEM) == 0
        db.session.commit()

        assert (ticket.erased_at, ticket.tracking_version, len(ticket.events)) == (
            erased,
            version,
            events,
        )


def test_erasing_one_report_leaves_another_reporters_report_as_it_was(app):
    with app.app_context():
        folder = Path(app.config["PORTAL_UPLOAD_DIR"])
        erased, _token = make_ticket(app, contact_email="ana@example.org")
        kept, _token = make_ticket(
            app, contact_email="bo@example.org", reporter_name="Bo", occurred_on=date(2026, 1, 2)
        )
        for ticket in (erased, kept):
            stored = store_evidence(io.BytesIO(b"chat log\n"), "chat.txt", folder)
            add_information(ticket, text="More details.", files=[stored], now=utcnow())
        db.session.commit()

        erase(erased, now=utcnow(), by=Actor.REPORTER)
        db.session.commit()

        assert (kept.contact_email, kept.reporter_name, kept.occurred_on) == (
            "bo@example.org",
            "Bo",
            date(2026, 1, 2),
        )
        assert (kept.output_text, kept.description) == (
            make_submission().output_text,
            make_submission().description,
        )
        assert "More details." in [event.body for event in kept.events]
        [attachment] = kept.attachments
        assert files_on_disk(app) == [attachment.storage_name]
        assert db.session.scalars(sa.select(OutboxMessage.to_address)).all() == ["bo@example.org"]


def test_deleting_evidence_keeps_the_text_and_notes_how_many_files_went(app):
    with app.app_context():
        folder = Path(app.config["PORTAL_UPLOAD_DIR"])
        ticket, _token = make_ticket(app)
        files = [store_evidence(io.BytesIO(b"log %d\n" % n), "log.txt", folder) for n in (1, 2)]
        add_information(ticket, text="Two logs.", files=files, now=utcnow())
        db.session.commit()

        assert delete_evidence(ticket, now=utcnow(), by=Actor.SYSTEM) == 2
        db.session.commit()

        assert files_on_disk(app) == []
        assert db.session.scalars(sa.select(Attachment)).all() == []
        assert ticket.attachments == []
        assert ticket.description == make_submission().description
        assert "Two logs." in [event.body for event in ticket.events]
        deleted = ticket.events[-1]
        assert (deleted.kind, deleted.actor, deleted.is_public, deleted.detail) == (
            EventKind.ATTACHMENTS_DELETED,
            Actor.SYSTEM,
            False,
            {"files": 2},
        )


def test_deleting_evidence_from_a_report_without_any_records_nothing(app):
    with app.app_context():
        ticket, _token = make_ticket(app)
        db.session.commit()
        events = len(ticket.events)

        assert delete_evidence(ticket, now=utcnow(), by=Actor.SYSTEM) == 0

        assert len(ticket.events) == events


def test_files_of_an_erasure_that_is_rolled_back_stay_on_disk(app):
    with app.app_context():
        folder = Path(app.config["PORTAL_UPLOAD_DIR"])
        ticket, _token = make_ticket(app)
        stored = store_evidence(io.BytesIO(b"chat log\n"), "chat.txt", folder)
        add_information(ticket, text=None, files=[stored], now=utcnow())
        db.session.commit()

        assert erase(ticket, now=utcnow(), by=Actor.REPORTER) == 1
        db.session.rollback()

        assert files_on_disk(app) == [stored.storage_name]
        assert ticket_of(ticket.reference).erased_at is None


def test_staff_see_an_erased_report_with_its_labels_and_history_but_none_of_its_text(app, registry):
    with app.app_context():
        route_everything_to("trust-safety")
        ticket, _token = make_ticket(app, reporter_name="Ana Reporter")
        db.session.commit()
        erase(ticket, now=utcnow(), by=Actor.REPORTER)
        db.session.commit()
        reference = ticket.reference
    make_staff(app, team_slugs=("trust-safety",))
    staff = app.test_client()
    assert sign_in(staff).status_code == 303

    page = page_text(staff.get(f"/staff/tickets/{reference}"))

    assert "Personal data erased" in page
    assert "Dangerous instructions" in page
    assert "Ana Reporter" not in page
    assert make_submission().output_text not in page


def test_nothing_new_about_the_reporter_can_be_written_on_an_erased_report(app, registry):
    staff_id = make_staff(app)
    with app.app_context():
        ticket, _token = make_ticket(app, contact_email="ana@example.org", consent_contact=True)
        erase(ticket, now=utcnow(), by=Actor.REPORTER)
        staff = db.session.get(StaffUser, staff_id)

        with pytest.raises(CaseworkRefused):
            casework.add_note(ticket, "She called again.", staff=staff, now=utcnow())
        with pytest.raises(CaseworkRefused):
            casework.reply(
                ticket, "Hello Ana.", staff=staff, now=utcnow(), lost_link_url=lambda: "/"
            )


def test_the_confirmation_email_is_written_in_the_reporters_language(app):
    with app.app_context():
        ticket, _token = make_ticket(app, contact_email="ana@example.org", locale="fr")

        assert request_erasure(ticket, now=utcnow()) is True

        message = db.session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.ticket_id == ticket.id)
        ).all()[-1]
        assert message.locale == "fr"


def test_asking_again_while_the_link_works_sends_no_second_email(app):
    with app.app_context():
        ticket, _token = make_ticket(app, contact_email="ana@example.org")
        now = utcnow()

        assert request_erasure(ticket, now=now) is True
        assert request_erasure(ticket, now=now + timedelta(hours=1)) is True
        db.session.commit()
        links = [
            message
            for message in db.session.scalars(
                sa.select(OutboxMessage).where(OutboxMessage.ticket_id == ticket.id)
            )
            if "/reports/erase/" in message.body
        ]
        assert len(links) == 1


def test_a_reporter_cannot_withdraw_under_appeal_but_an_erasure_ends_the_work(app, registry):
    with app.app_context():
        ticket, _token = make_ticket(app)
        for step in (Status.TRIAGED, Status.INVESTIGATING, Status.DECIDED, Status.APPEALED):
            transition(ticket, step, now=utcnow(), actor=Actor.STAFF)

        with pytest.raises(InvalidTransition):
            withdraw(ticket, reason=None, now=utcnow())
        erase(ticket, now=utcnow(), by=Actor.REPORTER)

        assert ticket.status is Status.WITHDRAWN
