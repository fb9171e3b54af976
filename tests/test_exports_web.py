"""The analysts' pages: choose filters, preview the records, request an export that the clock
runs, follow it, download its files; and the personal API tokens.
"""

import hashlib
import io
import re
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from portal.clock import utcnow
from portal.extensions import db
from portal.models import AuditEntry, ModelVersion
from portal.models.enums import Role
from portal.models.feedback import ApiToken, ExportStatus, FeedbackExport
from portal.services import exports
from portal.services.tokens import sha256_hex
from tests.conftest import CSRF_PATTERN, hidden_value
from tests.factories import make_staff, make_ticket
from tests.signing_in import sign_in
from tests.test_security import inline_code

PLANTED_EMAIL = "ana.reporter@example.org"
REPORTS = 23


@pytest.fixture(autouse=True)
def _admins_sign_in_with_a_password(app_config):
    app_config["PORTAL_TOTP_REQUIRED_FOR_ADMINS"] = False


@pytest.fixture
def consented_reports(app, registry) -> int:
    """REPORTS consented reports about Aurora Chat 3.0, each output carrying an e-mail
    address, and one report without consent."""
    with app.app_context():
        version = db.session.scalar(
            sa.select(ModelVersion).where(
                ModelVersion.model_id == registry["aurora-chat"], ModelVersion.version == "3.0"
            )
        )
        for number in range(REPORTS):
            make_ticket(
                app,
                model_id=registry["aurora-chat"],
                model_version_id=version.id,
                output_text=f"Write to {PLANTED_EMAIL} for the recipe, step {number}.",
                consent_training=True,
            )
        make_ticket(app, model_id=registry["aurora-chat"], output_text="Not for training.")
        db.session.commit()
    return REPORTS


def signed_in(app, email: str, roles=(Role.ANALYST,), name="Ana Analyst"):
    make_staff(app, email=email, roles=roles, name=name)
    client = app.test_client()
    assert sign_in(client, email=email).status_code == 303
    return client


@pytest.fixture
def analyst(app):
    return signed_in(app, "analyst@example.org")


@pytest.fixture
def colleague(app):
    return signed_in(app, "colleague@example.org", name="Cal Colleague")


def post_form(client, page_url: str, action: str, extra: dict | None = None):
    """Send the form whose action is ``action`` on ``page_url`` as the browser would: its
    hidden fields and CSRF token, plus ``extra``."""
    page = client.get(page_url).get_data(as_text=True)
    form = re.search(rf'<form[^>]* action="{re.escape(action)}"[^>]*>(.*?)</form>', page, re.S)
    assert form, f"no form posting to {action} on {page_url}"
    data = dict(re.findall(r'<input name="([^"]+)" type="hidden" value="([^"]*)">', form.group(1)))
    data["csrf_token"] = hidden_value(form.group(1), CSRF_PATTERN)
    data.update(extra or {})
    return client.post(action, data=data)


def request_export(client, query: str = "model=aurora-chat", fmt="jsonl"):
    response = post_form(client, f"/exports/preview?{query}", "/exports/", {"format": fmt})
    assert response.status_code == 303, response.get_data(as_text=True)
    return response.headers["Location"]


def run_the_clock(app) -> FeedbackExport:
    with app.app_context():
        export = exports.run_next_queued(utcnow())
        assert export is not None
        return export.id


def export_row(app, export_id: int) -> FeedbackExport:
    with app.app_context():
        export = db.session.get(FeedbackExport, export_id)
        db.session.expunge(export)
        return export


# -- preview ------------------------------------------------------------------------------------


def test_an_analyst_previews_the_count_and_the_first_twenty_records_redacted(
    analyst, consented_reports
):
    response = analyst.get("/exports/preview?model=aurora-chat&version_from=3.0")
    page = response.get_data(as_text=True)

    assert response.status_code == 200
    assert "23 records match these filters" in page
    assert page.count('<h3 class="heading-s">Record ') == 20
    assert "[EMAIL]" in page
    assert PLANTED_EMAIL not in page
    assert 'lang="en" dir="auto">Write to [EMAIL] for the recipe' in page
    assert "Not for training." not in page


def test_the_export_pages_are_in_the_analysts_navigation(analyst):
    page = analyst.get("/exports/").get_data(as_text=True)

    assert '<a href="/exports/" aria-current="page">Feedback exports</a>' in page


@pytest.mark.parametrize(
    ("query", "message", "kept"),
    [
        ("model=no-such-model", "Choose a model from the list", None),
        (
            "model=aurora-chat&version_from=3.0&version_to=2.5",
            "Version 2.5 came out before version 3.0",
            '<option value="3.0" selected>3.0</option>',
        ),
        (
            "model=aurora-chat&version_from=9.9",
            "“9.9” is not a version of Aurora Chat",
            '<option value="aurora-chat" selected>Aurora Chat</option>',
        ),
        ("version_from=3.0", "Choose a model first: each version belongs to a model", None),
        (
            "created_from=2026-11-20&created_to=2026-11-01",
            "The last day must be the same as the first day or later",
            'value="2026-11-20"',
        ),
        ("created_from=2026-02-31", "Enter a real date, such as 2026-11-27", 'value="2026-02-31"'),
        ("changes=moment", "Enter the date and time after which reports changed", None),
        ("changes=last_export", "Choose an option from the list", None),
        ("language=xx", "Choose a language from the list", None),
    ],
)
def test_a_bad_filter_shows_the_error_summary_at_the_field_and_keeps_the_answers(
    analyst, consented_reports, query, message, kept
):
    page = analyst.get(f"/exports/preview?{query}").get_data(as_text=True)

    assert "<title>Error: " in page
    assert 'class="error-summary"' in page
    assert page.count(message) == 2  # in the summary and at the question
    assert "records match" not in page
    assert "Request the export" not in page
    if kept:
        assert kept in page


def test_a_request_with_bad_filters_is_refused_and_queues_nothing(app, analyst, consented_reports):
    page = analyst.get("/exports/preview").get_data(as_text=True)
    response = analyst.post(
        "/exports/",
        data={
            "csrf_token": hidden_value(page, CSRF_PATTERN),
            "model": "aurora-chat",
            "version_from": "3.0",
            "version_to": "2.5",
            "format": "csv",
        },
    )

    assert response.status_code == 200
    assert "Version 2.5 came out before version 3.0" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(FeedbackExport)) == 0


def test_a_model_removed_since_the_form_was_built_is_said_at_the_model(
    app, analyst, consented_reports, monkeypatch
):
    from portal.views import exports as views

    real = views.model_choices
    monkeypatch.setattr(
        views, "model_choices", lambda: [*real(), views.ModelChoice("gone", "Gone", ("1",))]
    )

    page = analyst.get("/exports/preview?model=gone").get_data(as_text=True)

    assert page.count("This model or version is no longer in the registry") == 2


# -- requesting, following, downloading --------------------------------------------------------


def test_an_analyst_requests_an_export_and_downloads_its_files_once_the_clock_ran_it(
    app, analyst, consented_reports
):
    location = request_export(analyst, fmt="jsonl")

    queued = analyst.get(location).get_data(as_text=True)
    assert "Waiting to start" in queued
    assert '<noscript><meta http-equiv="refresh" content="5"></noscript>' in queued
    assert "<progress" in queued
    assert "Waiting for the clock to start it." in queued
    assert 'src="/static/js/exports.js"' in queued

    export_id = run_the_clock(app)
    assert location.endswith(f"/exports/{export_id}")
    ready = analyst.get(location).get_data(as_text=True)
    assert "Ready" in ready
    assert 'http-equiv="refresh"' not in ready
    assert "<dt>Records</dt>\n    <dd>23</dd>" in ready
    export = export_row(app, export_id)
    assert export.status is ExportStatus.DONE
    assert export.filters["model"] == "aurora-chat"
    for file in export.manifest["files"]:
        assert file["sha256"] in ready
        download = analyst.get(f"{location}/files/{file['path']}")
        assert download.status_code == 200
        assert download.headers["Content-Disposition"].startswith("attachment")
        assert hashlib.sha256(download.get_data()).hexdigest() == file["sha256"]
        download.close()
    with analyst.get(f"{location}/files/records.jsonl") as download:
        records = download.get_data(as_text=True)
    assert records.count("\n") == REPORTS
    assert PLANTED_EMAIL not in records
    manifest = analyst.get(f"{location}/files/manifest.json")
    assert manifest.status_code == 200
    manifest.close()


def test_the_request_and_each_download_are_in_the_audit_log(app, analyst, consented_reports):
    location = request_export(analyst)
    run_the_clock(app)
    analyst.get(f"{location}/files/records.jsonl").close()

    with app.app_context():
        actions = db.session.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.seq)).all()
    assert actions[-3:] == [
        "feedback.export_requested",
        "feedback.exported",
        "feedback.export_downloaded",
    ]


def test_the_progress_is_also_json_for_the_pages_script(app, analyst, consented_reports):
    location = request_export(analyst)

    waiting = analyst.get(f"{location}/progress").get_json()
    run_the_clock(app)
    done = analyst.get(f"{location}/progress").get_json()

    assert waiting["status"] == "queued"
    assert waiting["finished"] is False
    assert done == {
        "status": "done",
        "label": "Ready",
        "done": REPORTS,
        "total": REPORTS,
        "finished": True,
        "text": "23 records written.",
    }


def test_a_running_export_shows_how_far_it_has_got(app, analyst, consented_reports):
    location = request_export(analyst)
    export_id = int(location.rsplit("/", 1)[1])
    with app.app_context():
        export = db.session.get(FeedbackExport, export_id)
        export.status, export.rows_total, export.rows_done = ExportStatus.RUNNING, 4000, 1000
        db.session.commit()

    page = analyst.get(location).get_data(as_text=True)
    without_refresh = analyst.get(f"{location}?refresh=off").get_data(as_text=True)

    assert '<progress id="export-progress-bar"' in page
    assert 'max="4000" value="1000"' in page
    assert "1,000 of 4,000 records written (25%)." in page
    assert 'http-equiv="refresh"' in page
    assert 'http-equiv="refresh"' not in without_refresh
    assert "Check the progress again" in without_refresh


def test_a_failed_export_says_so_without_refreshing(app, analyst, consented_reports):
    location = request_export(analyst)
    export_id = int(location.rsplit("/", 1)[1])
    with app.app_context():
        export = db.session.get(FeedbackExport, export_id)
        export.status, export.error = ExportStatus.FAILED, "OSError"
        db.session.commit()

    page = analyst.get(location).get_data(as_text=True)

    assert "Failed" in page
    assert "<code>OSError</code>" in page
    assert 'http-equiv="refresh"' not in page


def test_a_hugging_face_folder_downloads_as_one_zip_file(app, analyst, consented_reports):
    location = request_export(analyst, fmt="hf")
    export_id = run_the_clock(app)
    manifest = export_row(app, export_id).manifest

    page = analyst.get(location).get_data(as_text=True)
    with analyst.get(f"{location}/dataset.zip") as response:
        data = response.get_data()

    assert f'href="/exports/{export_id}/dataset.zip"' in page
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    archive = zipfile.ZipFile(io.BytesIO(data))
    top = f"export-{export_id}"
    assert sorted(archive.namelist()) == sorted(
        [f"{top}/manifest.json", *(f"{top}/{file['path']}" for file in manifest["files"])]
    )
    for file in manifest["files"]:
        data = archive.read(f"{top}/{file['path']}")
        assert hashlib.sha256(data).hexdigest() == file["sha256"]


def test_only_a_hugging_face_export_has_a_zip_file(app, analyst, consented_reports):
    location = request_export(analyst, fmt="csv")
    run_the_clock(app)

    assert analyst.get(f"{location}/dataset.zip").status_code == 404
    assert "dataset.zip" not in analyst.get(location).get_data(as_text=True)


@pytest.mark.parametrize(
    "name",
    [
        "../1/records.jsonl",
        "..%2F..%2Fsecret.txt",
        "%2Fetc%2Fpasswd",
        "/etc/passwd",
        "not-listed.txt",
        "records.jsonl.bak",
        "data",
    ],
)
def test_a_download_refuses_every_name_its_manifest_does_not_list(
    app, analyst, consented_reports, name
):
    location = request_export(analyst)
    export_id = run_the_clock(app)
    with app.app_context():
        (exports.export_dir() / str(export_id) / "not-listed.txt").write_text("private")
        (exports.export_dir() / "secret.txt").write_text("private")

    # A doubled slash is first merged by the router (a redirect), then not found.
    response = analyst.get(f"{location}/files/{name}", follow_redirects=True)

    assert response.status_code == 404
    assert "private" not in response.get_data(as_text=True)


def test_nothing_is_downloadable_before_the_export_is_ready(analyst, consented_reports):
    location = request_export(analyst)

    assert analyst.get(f"{location}/files/manifest.json").status_code == 404
    assert analyst.get(f"{location}/files/records.jsonl").status_code == 404


def test_every_analyst_sees_every_export(app, analyst, colleague, consented_reports):
    location = request_export(analyst)
    run_the_clock(app)

    listing = colleague.get("/exports/").get_data(as_text=True)

    assert f'href="{location}"' in listing
    assert "Ana Analyst" in listing
    assert colleague.get(location).status_code == 200
    with colleague.get(f"{location}/files/records.jsonl") as download:
        assert download.status_code == 200


def test_since_my_last_export_starts_where_its_manifest_left_off(app, analyst, consented_reports):
    first = request_export(analyst)
    export_id = run_the_clock(app)
    cursor = export_row(app, export_id).manifest["cursor"]

    preview = analyst.get("/exports/preview?model=aurora-chat&changes=last_export")
    second = request_export(analyst, "model=aurora-chat&changes=last_export")

    assert first != second
    assert f"changed since your last finished export (number {export_id})" in preview.get_data(
        as_text=True
    )
    assert "0 records match these filters" in preview.get_data(as_text=True)
    since = export_row(app, int(second.rsplit("/", 1)[1])).filters["since"]
    assert datetime.fromisoformat(since) == datetime.fromisoformat(cursor)


def test_changes_since_a_moment_are_read_in_utc(app, analyst, consented_reports):
    moment = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")

    location = request_export(analyst, f"changes=moment&since={moment}")

    since = export_row(app, int(location.rsplit("/", 1)[1])).filters["since"]
    assert datetime.fromisoformat(since) == datetime.fromisoformat(f"{moment}+00:00")


# -- who may -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/exports/", "/exports/preview", "/exports/tokens"])
def test_an_agent_may_not_use_the_export_pages(app, path):
    agent = signed_in(app, "agent@example.org", roles=(Role.AGENT,))

    assert agent.get(path).status_code == 403


def test_an_administrator_may(app, consented_reports):
    admin = signed_in(app, "admin@example.org", roles=(Role.ADMIN,))

    assert admin.get("/exports/preview").status_code == 200


# -- tokens -------------------------------------------------------------------------------------


def create_token(client, name="Nightly pipeline"):
    response = post_form(client, "/exports/tokens", "/exports/tokens", {"name": name})
    assert response.status_code == 303
    return client.get(response.headers["Location"]).get_data(as_text=True)


def secret_on(page: str) -> str:
    match = re.search(r'<p class="admin-password__value" translate="no">(rdx_[^<]+)</p>', page)
    assert match, "no secret shown"
    return match.group(1)


def test_a_new_tokens_secret_is_shown_once_and_only_its_hash_is_kept(app, analyst):
    page = create_token(analyst)
    secret = secret_on(page)

    again = analyst.get("/exports/tokens").get_data(as_text=True)

    assert "Copy it now: it will not be shown again." in page
    assert secret not in again
    assert "Nightly pipeline" in again
    assert f"rdx_{secret[4:12]}…" in again
    with app.app_context():
        token = db.session.scalar(sa.select(ApiToken))
        assert token.token_hash == sha256_hex(secret)
        assert token.scope == "exports:read"
    with analyst.session_transaction() as session:
        assert secret not in str(dict(session))


def test_the_secret_waits_for_its_page_only_encrypted_in_the_session(analyst):
    created = post_form(analyst, "/exports/tokens", "/exports/tokens", {"name": "Laptop"})
    with analyst.session_transaction() as session:
        kept = str(dict(session))

    secret = secret_on(analyst.get(created.headers["Location"]).get_data(as_text=True))

    assert secret not in kept
    assert secret[4:] not in kept


def test_a_token_needs_a_name(app, analyst):
    page = analyst.get("/exports/tokens").get_data(as_text=True)
    response = analyst.post(
        "/exports/tokens", data={"csrf_token": hidden_value(page, CSRF_PATTERN), "name": "  "}
    )

    assert response.status_code == 200
    assert response.get_data(as_text=True).count("Enter a name for the token") == 2
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken)) == 0


def test_an_analyst_revokes_their_token(app, analyst):
    create_token(analyst)
    with app.app_context():
        token_id = db.session.scalar(sa.select(ApiToken.id))

    response = post_form(analyst, "/exports/tokens", f"/exports/tokens/{token_id}/revoke")

    assert response.status_code == 303
    page = analyst.get("/exports/tokens").get_data(as_text=True)
    assert "revoked: it no longer works" in page
    with app.app_context():
        assert db.session.get(ApiToken, token_id).revoked_at is not None


def test_another_analyst_can_neither_see_nor_revoke_it(app, analyst, colleague):
    create_token(analyst)
    with app.app_context():
        token_id = db.session.scalar(sa.select(ApiToken.id))
    page = colleague.get("/exports/tokens").get_data(as_text=True)

    response = colleague.post(
        f"/exports/tokens/{token_id}/revoke",
        data={"csrf_token": hidden_value(page, CSRF_PATTERN)},
    )

    assert "Nightly pipeline" not in page
    assert response.status_code == 404
    with app.app_context():
        assert db.session.get(ApiToken, token_id).revoked_at is None


# -- no inline code -----------------------------------------------------------------------------


def test_the_export_pages_contain_no_inline_script_or_style(app, analyst, consented_reports):
    location = request_export(analyst, fmt="hf")
    queued = analyst.get(location)
    run_the_clock(app)
    create_token(analyst)
    pages = [
        analyst.get("/exports/"),
        analyst.get("/exports/preview?model=aurora-chat"),
        analyst.get("/exports/preview?model=aurora-chat&version_from=3.0&version_to=2.5"),
        queued,
        analyst.get(location),
        analyst.get("/exports/tokens"),
    ]

    for response in pages:
        assert response.status_code == 200
        assert inline_code(response) == []


@pytest.mark.parametrize(
    ("roles", "lands_on"),
    [
        ((Role.ANALYST,), "/exports/"),
        ((Role.AUDITOR,), "/staff/audit"),
        ((Role.AGENT,), "/staff/queue"),
    ],
    ids=["analyst", "auditor", "agent"],
)
def test_each_member_of_staff_lands_on_the_first_section_they_may_use(app, roles, lands_on):
    client = signed_in(app, f"{roles[0].value}@example.org", roles=roles)

    response = client.get("/staff/")

    assert response.status_code == 302
    assert response.headers["Location"].startswith(lands_on)
