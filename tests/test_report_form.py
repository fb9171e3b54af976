"""Filing a report or a dispute at /reports/new, as a person with a browser would."""

import io
import re

import pytest
import sqlalchemy as sa
from PIL import Image

from portal.extensions import db
from portal.models import Attachment, OutboxMessage, Severity, Ticket, TicketKind
from tests.conftest import CSRF_PATTERN, hidden_value
from tests.reporting import (
    DISPUTE,
    HARM,
    complete_answers,
    count,
    files_on_disk,
    open_form,
    read_page,
    send,
)

REFERENCE_PATTERN = re.compile(r'class="reference">(RP-[0-9A-Z]{4}-[0-9A-Z]{4})<')
TRACKING_LINK_PATTERN = re.compile(
    r'class="tracking-link"><a href="(http://redress\.test/reports/track/[A-Za-z0-9_-]+)"'
)
TITLE_PATTERN = re.compile(r"<title>(.*?)</title>", re.DOTALL)

EXPECTED_OUTPUT_QUESTION = "What should the output have said?"
CRISIS_HEADING = "If you or someone else is in danger, get help now"
CSRF_MESSAGE = "we could not confirm that they came from this page"


@pytest.fixture
def app_config(app_config):
    # Flask-WTF 1.3 keeps CSRF on under TESTING; say so here so that these tests post the way a
    # browser must in production even if the shared configuration ever turns it off.
    app_config["WTF_CSRF_ENABLED"] = True
    return app_config


def title_of(page: str) -> str:
    return " ".join(TITLE_PATTERN.search(page).group(1).split())


def assert_answers_kept(page: str, answers: dict) -> None:
    shown = read_page(page).values
    for name, value in answers.items():
        assert shown.get(name) == value, f"the answer to {name!r} was not kept"


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "purple").save(buffer, format="PNG")
    return buffer.getvalue()


# -- reading the database and the upload folder -------------------------------------------------


def assert_nothing_stored(app) -> None:
    assert count(app, Ticket) == 0
    assert count(app, OutboxMessage) == 0


# -- choosing what to do ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "heading", "asks_for_expected_output"),
    [
        (HARM, "Report harm from an AI output", False),
        (DISPUTE, "Dispute an AI output", True),
    ],
)
def test_each_kind_of_report_has_its_own_form(
    client, registry, kind, heading, asks_for_expected_output
):
    page = open_form(client, kind)

    assert title_of(page).startswith(heading)
    assert f">{heading}</h1>" in page
    assert (EXPECTED_OUTPUT_QUESTION in page) is asks_for_expected_output
    assert ('name="expected_output"' in page) is asks_for_expected_output


@pytest.mark.parametrize("query", [{}, {"kind": "complaint"}, {"kind": ""}])
def test_a_form_without_a_known_kind_sends_the_person_to_the_start_page(client, query):
    response = client.get("/reports/new", query_string=query)

    assert response.status_code == 302
    assert response.location.split("?")[0] == "/reports/"
    start = client.get(response.location)
    assert start.status_code == 200
    assert "What do you want to do?" in start.get_data(as_text=True)


def test_choosing_a_kind_on_the_start_page_opens_its_form(client):
    response = client.get("/reports/", query_string={"kind": DISPUTE})

    assert response.status_code == 302
    assert response.location == f"/reports/new?kind={DISPUTE}"


def test_continuing_from_the_start_page_without_a_choice_explains_what_to_do(client):
    response = client.get("/reports/", query_string={"kind": ""})
    page = response.get_data(as_text=True)

    assert response.status_code == 200
    assert title_of(page).startswith("Error:")
    assert read_page(page).summary_links == ["#kind-0"]
    assert "Select what you want to do" in page
    assert 'id="kind-0"' in page


# -- "Report this output" links -----------------------------------------------------------------


def test_a_report_this_output_link_preselects_the_version_and_fills_the_output_id(client, registry):
    page = open_form(client, DISPUTE, model="aurora-chat", version="3.0", output_id="abc-123")
    reader = read_page(page)

    assert reader.selected_labels["model_choice"] == "Aurora Chat 3.0"
    assert reader.values["output_id"] == "abc-123"
    assert "We could not find the model" not in page


@pytest.mark.parametrize(
    ("link", "preselected"),
    [
        ({"model": "no-such-model", "version": "3.0"}, "Choose a model"),
        ({"model": "aurora-chat", "version": "9.9"}, "Aurora Chat, version not known"),
    ],
    ids=["unknown model", "unknown version"],
)
def test_a_link_naming_an_unknown_model_or_version_asks_the_person_to_choose(
    client, registry, link, preselected
):
    page = open_form(client, HARM, **link)

    assert "We could not find the model or version named in the link you followed." in page
    assert "Aurora Chat 2.5</option>" in page
    assert "Quill Writer 5.1</option>" in page
    assert read_page(page).selected_labels["model_choice"] == preselected


def test_an_overlong_output_id_in_a_link_is_left_out(client, registry):
    page = open_form(client, DISPUTE, model="aurora-chat", output_id="x" * 201)

    assert read_page(page).values["output_id"] == ""
    assert "There is a problem" not in page


# -- a complete report --------------------------------------------------------------------------


def test_a_complete_report_creates_one_ticket_and_confirms_it_with_a_reference_and_a_link(
    app, client, registry
):
    answers = complete_answers(
        registry,
        reporter_role="someone_else",
        input_text="How do I clean mould off tiles?",
        occurred_on="2026-01-15",
        impact="My flatmate had to go to hospital.",
        requested_outcome="Stop the model giving this advice.",
        reporter_name="Sam Example",
        consent_training="y",
    )

    response = send(client, open_form(client), answers)

    assert response.status_code == 303
    assert response.location == "/reports/confirmation"
    confirmation = client.get(response.location)
    page = confirmation.get_data(as_text=True)
    assert confirmation.status_code == 200
    reference = REFERENCE_PATTERN.search(page).group(1)
    tracking_link = TRACKING_LINK_PATTERN.search(page).group(1)
    with app.app_context():
        ticket = db.session.scalars(sa.select(Ticket)).one()
        assert ticket.reference == reference
        assert ticket.kind is TicketKind.HARM_REPORT
        assert ticket.reporter_role.value == "someone_else"
        assert ticket.model.slug == "aurora-chat"
        assert ticket.model_version is None
        assert ticket.output_text == answers["output_text"]
        assert ticket.input_text == answers["input_text"]
        assert ticket.occurred_on.isoformat() == "2026-01-15"
        assert ticket.description == answers["description"]
        assert ticket.impact == answers["impact"]
        assert ticket.requested_outcome == answers["requested_outcome"]
        assert ticket.expected_output is None
        assert ticket.category.value == "dangerous_instructions"
        assert ticket.reporter_severity is Severity.HIGH
        assert ticket.immediate_danger is False
        assert (ticket.consent_contact, ticket.consent_training, ticket.consent_public_stats) == (
            False,
            True,
            False,
        )
        assert ticket.reporter_name == "Sam Example"
        assert ticket.contact_email is None
        assert ticket.timezone == "Europe/London"
    opened = client.get(tracking_link)
    assert opened.status_code == 303
    assert opened.location == f"/reports/case/{reference}"


def test_a_dispute_from_a_report_this_output_link_stores_the_version_and_the_expected_output(
    app, client, registry
):
    page = open_form(client, DISPUTE, model="aurora-chat", version="2.5", output_id="out-42")
    answers = complete_answers(
        registry, DISPUTE, model_choice=read_page(page).values["model_choice"]
    )

    response = send(client, page, {**answers, "output_id": "out-42"})

    assert response.status_code == 303
    with app.app_context():
        ticket = db.session.scalars(sa.select(Ticket)).one()
        assert ticket.kind is TicketKind.OUTPUT_DISPUTE
        assert (ticket.model.slug, ticket.model_version.version) == ("aurora-chat", "2.5")
        assert ticket.output_id == "out-42"
        assert ticket.expected_output == answers["expected_output"]


def test_a_model_that_is_not_listed_is_stored_by_the_name_the_person_typed(app, client, registry):
    answers = complete_answers(
        registry, model_choice="not_listed", model_not_listed="Chatterbox 7 by Acme"
    )

    response = send(client, open_form(client), answers)

    assert response.status_code == 303
    with app.app_context():
        ticket = db.session.scalars(sa.select(Ticket)).one()
        assert (ticket.model_id, ticket.model_not_listed) == (None, "Chatterbox 7 by Acme")


# -- answers that are missing or do not fit -----------------------------------------------------


def test_missing_answers_are_listed_with_links_and_nothing_is_half_saved(app, client, registry):
    typed = {
        "output_text": "You will never get better, so stop trying.",
        "input_text": "Any tips for recovering from a sprained ankle?",
        "impact": "It upset me for days.",
        "reporter_name": "Ada",
        "contact_email": "ada@example.org",
        "consent_contact": "y",
        "timezone": "Europe/Paris",
    }

    response = send(client, open_form(client), typed, files=[("ankle.png", png_bytes())])
    page = response.get_data(as_text=True)
    reader = read_page(page)

    assert response.status_code == 200
    assert title_of(page).startswith("Error:")
    assert set(reader.summary_links) == {
        "#reporter_role-0",
        "#model_choice",
        "#description",
        "#category-0",
        "#reporter_severity-0",
        "#immediate_danger-0",
    }
    assert all(link.removeprefix("#") in reader.ids for link in reader.summary_links)
    assert "Select who you are reporting for" in page
    assert "Describe what went wrong" in page
    assert_answers_kept(page, typed)
    assert count(app, Ticket) == 0
    assert count(app, OutboxMessage) == 0


def test_the_error_summary_lists_problems_in_the_order_of_the_questions(client, registry):
    page = send(client, open_form(client), {}).get_data(as_text=True)
    reader = read_page(page)

    position = {element_id: index for index, element_id in enumerate(reader.ids)}
    targets = [link.removeprefix("#") for link in reader.summary_links]
    assert len(targets) >= 2
    assert targets == sorted(targets, key=position.__getitem__)


@pytest.mark.parametrize(
    ("field", "length", "limit"),
    [
        ("output_text", 20_001, "20,000"),
        ("description", 10_001, "10,000"),
        ("impact", 2_001, "2,000"),
    ],
)
def test_text_over_the_limit_is_refused_with_the_limit_named_and_kept_on_screen(
    app, client, registry, field, length, limit
):
    answers = complete_answers(registry, **{field: "a" * length})

    response = send(client, open_form(client), answers)
    page = response.get_data(as_text=True)

    assert response.status_code == 200
    assert f"This must be {limit} characters or fewer" in page
    assert read_page(page).summary_links == [f"#{field}"]
    assert_answers_kept(page, answers)
    assert_nothing_stored(app)


def test_text_exactly_at_each_limit_is_stored_in_full(app, client, registry):
    answers = complete_answers(
        registry,
        DISPUTE,
        model_choice="not_listed",
        model_not_listed="é" * 2_000,
        output_id="é" * 200,
        output_text="é" * 20_000,
        input_text="é" * 20_000,
        expected_output="é" * 20_000,
        description="é" * 10_000,
        impact="é" * 2_000,
        requested_outcome="é" * 2_000,
        reporter_name="é" * 200,
    )

    response = send(client, open_form(client, DISPUTE), answers)

    assert response.status_code == 303
    with app.app_context():
        ticket = db.session.scalars(sa.select(Ticket)).one()
        for field in (
            "model_not_listed",
            "output_id",
            "output_text",
            "input_text",
            "expected_output",
            "description",
            "impact",
            "requested_outcome",
            "reporter_name",
        ):
            assert getattr(ticket, field) == answers[field], field


@pytest.mark.parametrize(
    ("kind", "changes", "field_id", "message"),
    [
        (
            DISPUTE,
            {"expected_output": None},
            "expected_output",
            "Enter what the output should have said",
        ),
        (
            DISPUTE,
            {"expected_output": "   "},
            "expected_output",
            "Enter what the output should have said",
        ),
        (
            HARM,
            {"consent_contact": "y"},
            "contact_email",
            "Enter an e-mail address so that we can contact you",
        ),
        (
            HARM,
            {"contact_email": "ada.example.org"},
            "contact_email",
            "Enter an e-mail address in the correct format, like name@example.com",
        ),
    ],
    ids=[
        "dispute without expected output",
        "expected output only spaces",
        "consent without e-mail",
        "malformed e-mail",
    ],
)
def test_an_answer_that_does_not_fit_is_explained_and_nothing_is_stored(
    app, client, registry, kind, changes, field_id, message
):
    answers = complete_answers(registry, kind, **changes)

    response = send(client, open_form(client, kind), answers)
    page = response.get_data(as_text=True)

    assert response.status_code == 200
    assert read_page(page).summary_links == [f"#{field_id}"]
    assert message in page
    assert_answers_kept(page, answers)
    assert_nothing_stored(app)


# -- evidence -----------------------------------------------------------------------------------


def test_a_file_that_is_not_really_an_image_is_refused_by_name(app, client, registry):
    answers = complete_answers(registry)
    disguised = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" * 64

    response = send(client, open_form(client), answers, files=[("screenshot.png", disguised)])
    page = response.get_data(as_text=True)

    assert response.status_code == 200
    assert "“screenshot.png” is not a PNG, JPEG, WebP, PDF or plain text file." in page
    assert "#evidence" in read_page(page).summary_links
    assert_answers_kept(page, answers)
    assert_nothing_stored(app)
    assert files_on_disk(app) == []


def test_a_file_over_ten_megabytes_is_refused_with_a_clear_message(app, client, registry):
    eleven_megabytes = b"\x89PNG\r\n\x1a\n" + bytes(11 * 1024 * 1024)

    response = send(
        client,
        open_form(client),
        complete_answers(registry),
        files=[("holiday.png", eleven_megabytes)],
    )
    page = response.get_data(as_text=True)

    assert response.status_code == 200
    assert "“holiday.png” is larger than 10 MB. Choose a smaller file." in page
    assert_nothing_stored(app)
    assert files_on_disk(app) == []


def test_only_five_files_are_accepted_and_the_sixth_is_named(app, client, registry):
    notes = [(f"note{number}.txt", f"Note number {number}".encode()) for number in range(1, 7)]

    response = send(client, open_form(client), complete_answers(registry), files=notes)
    page = response.get_data(as_text=True)

    assert response.status_code == 200
    assert "You can add up to 5 files. “note6.txt” was not added." in page
    assert "You have already added 5 files" in page
    assert list(read_page(page).offered("remove_evidence")) == [
        f"note{number}.txt" for number in range(1, 6)
    ]
    assert count(app, Ticket) == 0
    corrected = send(client, page, complete_answers(registry))
    assert corrected.status_code == 303
    with app.app_context():
        ticket = db.session.scalars(sa.select(Ticket)).one()
        assert [file.original_name for file in ticket.attachments] == [
            f"note{number}.txt" for number in range(1, 6)
        ]


def test_a_file_added_to_a_form_with_errors_is_attached_when_the_form_is_corrected(
    app, client, registry
):
    first = send(
        client,
        open_form(client),
        complete_answers(registry, description=None),
        files=[("screenshot.png", png_bytes())],
    )
    page = first.get_data(as_text=True)

    assert first.status_code == 200
    assert "You have already added 1 file" in page
    assert list(read_page(page).offered("remove_evidence")) == ["screenshot.png"]
    assert count(app, Ticket) == 0

    corrected = send(client, page, complete_answers(registry))

    assert corrected.status_code == 303
    with app.app_context():
        ticket = db.session.scalars(sa.select(Ticket)).one()
        [attachment] = ticket.attachments
        assert (attachment.original_name, attachment.content_type) == (
            "screenshot.png",
            "image/png",
        )
        assert files_on_disk(app) == [attachment.storage_name]


def test_a_file_already_added_can_be_removed_before_sending(app, client, registry):
    first = send(
        client,
        open_form(client),
        complete_answers(registry, description=None),
        files=[("wrong-screenshot.png", png_bytes())],
    )
    page = first.get_data(as_text=True)
    attachment_id = read_page(page).offered("remove_evidence")["wrong-screenshot.png"]

    corrected = send(client, page, complete_answers(registry, remove_evidence=attachment_id))

    assert corrected.status_code == 303
    with app.app_context():
        ticket = db.session.scalars(sa.select(Ticket)).one()
        assert ticket.attachments == []
    assert count(app, Attachment) == 0
    assert files_on_disk(app) == []


# -- where a post came from ---------------------------------------------------------------------


def token_from_another_browser(app) -> str:
    return hidden_value(open_form(app.test_client()), CSRF_PATTERN)


@pytest.mark.parametrize(
    "bad_token",
    [None, "not-a-real-token", token_from_another_browser],
    ids=["missing", "made up", "from another browser"],
)
def test_a_post_without_this_pages_token_shows_the_answers_again_and_stores_nothing(
    app, client, registry, bad_token
):
    if callable(bad_token):
        bad_token = bad_token(app)
    answers = complete_answers(registry, description="Le modèle a menti à ma fille.")

    response = send(
        client,
        open_form(client),
        {**answers, "csrf_token": bad_token},
        files=[("screenshot.png", png_bytes())],
    )
    page = response.get_data(as_text=True)

    assert response.status_code == 200
    assert CSRF_MESSAGE in page
    assert title_of(page).startswith("Error:")
    assert_answers_kept(page, answers)
    assert_nothing_stored(app)
    assert count(app, Attachment) == 0
    assert files_on_disk(app) == []
    resent = send(client, page, answers)
    assert resent.status_code == 303
    assert count(app, Ticket) == 1


@pytest.mark.parametrize(
    "body",
    [
        "description=Caf\xe9 cr\xe8me&output_text=na\xefve".encode("latin-1"),
        b"description=Caf%E9+cr%E8me&output_text=na%EFve",
    ],
    ids=["raw latin-1", "percent-encoded latin-1"],
)
def test_a_form_sent_in_another_encoding_gets_a_page_not_a_server_error(
    app, client, registry, body
):
    form = read_page(open_form(client))
    hidden_fields = "".join(f"&{name}={value}" for name, value in form.hidden.items())

    response = client.post(
        form.action,
        data=body + hidden_fields.encode(),
        content_type="application/x-www-form-urlencoded",
    )

    page = response.get_data(as_text=True)
    assert response.status_code in (200, 400)
    assert response.status_code == 400 or "There is a problem" in page
    assert count(app, Ticket) == 0


# -- sending twice ------------------------------------------------------------------------------


def test_sending_the_same_form_twice_makes_one_ticket_and_confirms_it_twice_alike(
    app, client, registry
):
    page = open_form(client)
    answers = complete_answers(registry)

    first = send(client, page, answers)
    first_confirmation = client.get(first.location).get_data(as_text=True)
    second = send(client, page, answers)
    second_confirmation = client.get(second.location).get_data(as_text=True)

    assert (first.status_code, second.status_code) == (303, 303)
    assert count(app, Ticket) == 1
    assert REFERENCE_PATTERN.search(first_confirmation).group(1) == REFERENCE_PATTERN.search(
        second_confirmation
    ).group(1)
    assert TRACKING_LINK_PATTERN.search(first_confirmation).group(
        1
    ) == TRACKING_LINK_PATTERN.search(second_confirmation).group(1)


# -- safety first -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [{"category": "self_harm"}, {"immediate_danger": "yes"}],
    ids=["self-harm", "immediate danger"],
)
def test_a_report_about_someones_safety_shows_crisis_help_first_and_is_critical(
    app, client, registry, changes
):
    response = send(client, open_form(client), complete_answers(registry, **changes))
    page = client.get(response.location).get_data(as_text=True)

    assert CRISIS_HEADING in page
    assert "Emergency services" in page
    assert page.index(CRISIS_HEADING) < REFERENCE_PATTERN.search(page).start()
    with app.app_context():
        ticket = db.session.scalars(sa.select(Ticket)).one()
        assert ticket.severity is Severity.CRITICAL


def test_other_reports_show_no_crisis_help_and_keep_their_severity_for_staff(app, client, registry):
    response = send(client, open_form(client), complete_answers(registry))
    page = client.get(response.location).get_data(as_text=True)

    assert REFERENCE_PATTERN.search(page)
    assert CRISIS_HEADING not in page
    assert 'class="crisis"' not in page
    with app.app_context():
        ticket = db.session.scalars(sa.select(Ticket)).one()
        assert ticket.severity is None
        assert ticket.reporter_severity is Severity.HIGH


# -- e-mail -------------------------------------------------------------------------------------


def test_an_email_address_gets_one_confirmation_email_with_the_tracking_link(app, client, registry):
    answers = complete_answers(registry, contact_email="ada@example.org", consent_contact="y")

    response = send(client, open_form(client), answers)
    page = client.get(response.location).get_data(as_text=True)

    tracking_link = TRACKING_LINK_PATTERN.search(page).group(1)
    with app.app_context():
        message = db.session.scalars(sa.select(OutboxMessage)).one()
        assert message.to_address == "ada@example.org"
        assert tracking_link in message.body
        assert REFERENCE_PATTERN.search(page).group(1) in message.subject
    assert "We have also sent the link to your e-mail address." in page


def test_without_an_email_address_no_email_is_queued(app, client, registry):
    response = send(client, open_form(client), complete_answers(registry))
    page = client.get(response.location).get_data(as_text=True)

    assert count(app, OutboxMessage) == 0
    assert "You did not give an e-mail address" in page
