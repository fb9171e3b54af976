"""The analysts' API: personal tokens, feedback records streamed as JSON Lines, and the
finished exports' files."""

import hashlib
import io
import json
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jsonschema
import pyarrow.parquet as pq
import pytest
import schemathesis
import sqlalchemy as sa
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from portal.clock import utcnow
from portal.extensions import db
from portal.models import (
    Actor,
    AIModel,
    AuditEntry,
    AutomatedMeans,
    Decision,
    ModelVersion,
    Outcome,
    StaffUser,
    Status,
    Ticket,
)
from portal.models.enums import Role
from portal.models.feedback import ApiToken, ExportFormat, FeedbackExport
from portal.models.registry import StaffRole
from portal.services import api_tokens, exports, feedback
from portal.services.feedback import FeedbackFilters, record_id
from portal.services.status import transition
from portal.services.tickets import withdraw_training_consent
from portal.views.api import CHOICES, decode_cursor, encode_cursor
from tests.factories import make_staff, make_ticket

DOCS = Path(__file__).resolve().parents[1] / "docs"
RECORD_SCHEMA = json.loads((DOCS / "feedback-record.schema.json").read_text())
OPENAPI = DOCS / "openapi.yaml"
BASE_URL = "http://redress.test"
FEEDBACK = "/api/v1/feedback"
COUNT = "/api/v1/feedback/count"
EXPORTS = "/api/v1/exports"


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def lines_of(response) -> list[dict]:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/x-ndjson"
    text = response.get_data(as_text=True)
    assert text == "" or text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def ids_of(response) -> list[str]:
    return [record["record_id"] for record in lines_of(response)]


def new_token(app, user_id: int, name: str = "laptop") -> str:
    with app.app_context():
        _token, secret = api_tokens.create_token(
            db.session.get(StaffUser, user_id), name, now=utcnow()
        )
        db.session.commit()
        return secret


@pytest.fixture
def analyst(app) -> int:
    return make_staff(app, email="ana@example.org", roles=(Role.ANALYST,), name="Ana Analyst")


@pytest.fixture
def token(app, analyst) -> str:
    return new_token(app, analyst)


@pytest.fixture
def reports(app, registry, analyst) -> dict[str, int]:
    """Seven reports whose reporters agreed to model-improvement use, different in every field
    the API filters on, and one whose reporter did not. Returns {name: ticket id}."""
    with app.app_context():
        version = {
            (slug, name): version_id
            for slug, name, version_id in db.session.execute(
                sa.select(AIModel.slug, ModelVersion.version, ModelVersion.id).join(
                    AIModel, AIModel.id == ModelVersion.model_id
                )
            )
        }

        def report(name, day, *, model=None, version_name=None, consent=True, **fields):
            model_fields = (
                {"model_id": registry[model], "model_version_id": version[(model, version_name)]}
                if model
                else {"model_not_listed": "Some other assistant"}
            )
            ticket, _link = make_ticket(
                app,
                now=datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=9),
                consent_training=consent,
                **model_fields,
                **fields,
            )
            return name, ticket

        made = dict(
            [
                report("old_aurora", date(2026, 4, 1), model="aurora-chat", version_name="2.5"),
                report(
                    "dispute",
                    date(2026, 9, 10),
                    model="aurora-chat",
                    version_name="3.0",
                    kind="output_dispute",
                    category="misinformation",
                    reporter_severity="low",
                    locale="fr",
                    input_text="Quelle est la capitale de l'Australie ?",
                    expected_output="Canberra.",
                ),
                report(
                    "privacy",
                    date(2026, 9, 20),
                    model="aurora-chat",
                    version_name="3.0",
                    category="privacy",
                    reporter_severity="medium",
                    locale="ar",
                    output_text="Write to ana.reporter@example.org or call +44 20 7946 0958.",
                ),
                report(
                    "quill_bias",
                    date(2026, 10, 5),
                    model="quill-writer",
                    version_name="5.1",
                    category="bias",
                    reporter_severity="critical",
                ),
                report("unlisted", date(2026, 10, 6), category="other", reporter_severity="low"),
                report(
                    "decided",
                    date(2026, 5, 1),
                    model="aurora-chat",
                    version_name="2.5",
                    category="hate_harassment",
                    reporter_severity="medium",
                    locale="fr",
                ),
                report(
                    "quill_dispute",
                    date(2026, 10, 7),
                    model="quill-writer",
                    version_name="5.1",
                    kind="output_dispute",
                    category="wrong_decision",
                    expected_output="The loan should have been approved.",
                ),
                report(
                    "no_consent",
                    date(2026, 9, 11),
                    model="aurora-chat",
                    version_name="3.0",
                    consent=False,
                ),
            ]
        )
        decided = made["decided"]
        for step in (Status.TRIAGED, Status.INVESTIGATING, Status.DECIDED):
            transition(decided, step, now=utcnow(), actor=Actor.STAFF)
        db.session.add(
            Decision(
                ticket=decided,
                outcome=Outcome.UPHELD,
                remedies=["content_removed"],
                facts="The output insulted the reporter.",
                measure="The output was removed.",
                automated_means=AutomatedMeans.NONE,
                policy_clause="4.2",
                language="en",
                decided_by_id=analyst,
                decided_at=utcnow(),
            )
        )
        db.session.commit()
        return {name: ticket.id for name, ticket in made.items()}


def expected_ids(app, **filters) -> list[str]:
    with app.app_context():
        return [record["record_id"] for _id, record in feedback.records(FeedbackFilters(**filters))]


def audit_actions(app) -> list[sa.Row]:
    with app.app_context():
        return db.session.execute(
            sa.select(AuditEntry.action, AuditEntry.object_id, AuditEntry.payload).order_by(
                AuditEntry.seq
            )
        ).all()


# -- tokens -------------------------------------------------------------------------------------


def test_a_token_is_shown_once_and_only_its_hash_is_stored(app, analyst):
    secret = new_token(app, analyst, name="Notebook on the build server")

    assert secret.startswith("rdx_")
    assert len(secret) == 47
    with app.app_context():
        rows = db.session.execute(sa.select(ApiToken.__table__)).all()
        (token,) = api_tokens.tokens_of(db.session.get(StaffUser, analyst))
        assert token.token_hash == api_tokens.sha256_hex(secret)
        assert token.prefix == secret[4:12]
        assert token.scope == "exports:read"
    stored = " ".join(str(value) for row in rows for value in row)
    assert secret not in stored
    assert secret[4:] not in stored
    assert secret[12:20] not in stored  # no part beyond the prefix shown in the list
    (created,) = [entry for entry in audit_actions(app) if entry.action == "api_token.created"]
    assert created.object_id == str(token.id)
    assert "Notebook" not in created.payload  # ids only: the name is the user's own text


def test_a_token_name_must_say_something(app, analyst):
    with app.app_context():
        user = db.session.get(StaffUser, analyst)
        with pytest.raises(api_tokens.InvalidTokenName):
            api_tokens.create_token(user, "   ", now=utcnow())
        with pytest.raises(api_tokens.InvalidTokenName):
            api_tokens.create_token(user, "x" * 101, now=utcnow())


def test_a_revoked_token_is_refused_at_once(app, client, analyst, token):
    assert client.get(COUNT, headers=bearer(token)).status_code == 200

    with app.app_context():
        (stored,) = api_tokens.tokens_of(db.session.get(StaffUser, analyst))
        api_tokens.revoke(stored, now=utcnow())
        api_tokens.revoke(stored, now=utcnow())  # a second time changes nothing
        db.session.commit()

    response = client.get(COUNT, headers=bearer(token))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    revoked = [entry for entry in audit_actions(app) if entry.action == "api_token.revoked"]
    assert len(revoked) == 1


@pytest.mark.parametrize("change", ["analyst_role_removed", "account_disabled"])
def test_a_token_stops_working_when_its_owner_may_no_longer_export(
    app, client, analyst, token, change
):
    assert client.get(FEEDBACK, headers=bearer(token)).status_code == 200

    with app.app_context():
        user = db.session.get(StaffUser, analyst)
        if change == "analyst_role_removed":
            db.session.execute(sa.delete(StaffRole).where(StaffRole.user_id == analyst))
            db.session.add(StaffRole(user_id=analyst, role=Role.AGENT))
        else:
            user.is_active = False
        db.session.commit()

    assert client.get(FEEDBACK, headers=bearer(token)).status_code == 401
    assert client.get(COUNT, headers=bearer(token)).status_code == 401


def test_an_administrators_token_works(app, client):
    admin = make_staff(app, email="root@example.org", roles=(Role.ADMIN,), name="Ad Min")

    assert client.get(COUNT, headers=bearer(new_token(app, admin))).status_code == 200


def test_a_tokens_use_is_recorded_at_most_once_a_minute(app, analyst, token):
    start = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
    with app.app_context():
        assert api_tokens.authenticate(token, now=start).last_used_at == start
        seen = api_tokens.authenticate(token, now=start + timedelta(seconds=59))
        assert seen.last_used_at == start
        later = start + timedelta(minutes=1)
        assert api_tokens.authenticate(token, now=later).last_used_at == later


@pytest.mark.parametrize("path", [FEEDBACK, COUNT])
@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer rdx_" + "A" * 43,
        "Bearer not-a-token",
        "Basic YW5hOnBhc3N3b3Jk",
        "Bearer",
    ],
)
def test_without_a_valid_token_the_answer_is_401_in_json(client, token, path, authorization):
    headers = {"Authorization": authorization} if authorization else {}

    response = client.get(path, headers=headers)

    assert response.status_code == 401
    assert response.is_json
    assert set(response.json) == {"error"}
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    assert response.headers["Cache-Control"] == "no-store"


# -- the stream ---------------------------------------------------------------------------------


def test_every_streamed_line_is_a_valid_feedback_record(client, token, reports):
    jsonschema.Draft202012Validator.check_schema(RECORD_SCHEMA)
    validator = jsonschema.Draft202012Validator(
        RECORD_SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )

    response = client.get(FEEDBACK, headers=bearer(token))

    assert response.headers["Cache-Control"] == "no-store"
    records = lines_of(response)
    assert len(records) == 7
    for record in records:
        validator.validate(record)
    privacy = next(record for record in records if record["language"] == "ar")
    assert "ana.reporter@example.org" not in privacy["output"]


def test_the_records_are_the_feedback_streams_records(app, client, token, reports):
    with app.app_context():
        expected = [record for _id, record in feedback.records(FeedbackFilters())]

    assert lines_of(client.get(FEEDBACK, headers=bearer(token))) == expected


def test_pages_walk_every_record_exactly_once(app, client, token, reports):
    everything = expected_ids(app)
    seen, pages = [], []
    url = f"{FEEDBACK}?limit=3"
    while url:
        response = client.get(url, headers=bearer(token))
        page = ids_of(response)
        pages.append(len(page))
        seen += page
        link = response.headers.get("Link")
        cursor = response.headers.get("X-Next-Cursor")
        assert (link is None) == (cursor is None)
        if link is None:
            break
        assert link.endswith('>; rel="next"')
        url = link[1 : -len('>; rel="next"')]
        assert parse_qs(urlsplit(url).query) == {"limit": ["3"], "after": [cursor]}

    assert pages == [3, 3, 1]
    assert seen == everything
    assert len(set(seen)) == 7


def test_a_last_page_that_is_exactly_full_has_no_next_page(client, token, reports):
    response = client.get(f"{FEEDBACK}?limit=7", headers=bearer(token))

    assert len(ids_of(response)) == 7
    assert "Link" not in response.headers
    assert "X-Next-Cursor" not in response.headers


def test_the_next_page_keeps_the_filters(app, client, token, reports):
    response = client.get(f"{FEEDBACK}?model=aurora-chat&limit=1", headers=bearer(token))
    first = ids_of(response)  # read to the end: the stream holds its request open until then

    query = parse_qs(urlsplit(response.headers["Link"][1:].split(">")[0]).query)
    assert query["model"] == ["aurora-chat"]
    assert query["limit"] == ["1"]
    following = client.get(
        f"{FEEDBACK}?model=aurora-chat&limit=10&after={query['after'][0]}", headers=bearer(token)
    )
    assert first + ids_of(following) == expected_ids(app, model="aurora-chat")


def test_a_cursor_is_opaque_and_a_forged_one_is_refused(app, client, token, reports):
    response = client.get(f"{FEEDBACK}?limit=2", headers=bearer(token))
    cursor = response.headers["X-Next-Cursor"]
    secret_key = app.config["SECRET_KEY"]
    second = sorted(reports.values())[1]

    assert decode_cursor(cursor, secret_key) == second
    # Encrypted, not merely signed: unreadable without the key, and different every time.
    assert decode_cursor(cursor, "another installation's secret key") is None
    assert encode_cursor(second, secret_key) != cursor
    flipped = cursor[:20] + ("A" if cursor[20] != "A" else "B") + cursor[21:]
    for forged in (
        flipped,
        str(second),
        encode_cursor(second, "another installation's secret key"),
        "é" * 10,
    ):
        answer = client.get(f"{FEEDBACK}?after={forged}", headers=bearer(token))
        assert answer.status_code == 400
        assert answer.json["parameter"] == "after"


FILTERS = [
    {"model": "aurora-chat"},
    {"model": "aurora-chat", "version_from": "3.0"},
    {"model": "aurora-chat", "version_to": "2.5"},
    {"model": "quill-writer", "version_from": "5.1", "version_to": "5.1"},
    {"kind": "output_dispute"},
    {"category": "privacy"},
    {"severity": "low"},
    {"outcome": "upheld"},
    {"language": "fr"},
    {"created_from": "2026-09-15"},
    {"created_to": "2026-09-15"},
    {"created_from": "2026-10-05", "created_to": "2026-10-06"},
    {"kind": "harm_report", "language": "en", "model": "quill-writer"},
]


@pytest.mark.parametrize("query", FILTERS, ids=lambda query: "&".join(query))
def test_filters_narrow_as_the_feedback_stream_does(app, client, token, reports, query):
    filters = dict(query)
    for name in ("created_from", "created_to"):
        if name in filters:
            filters[name] = date.fromisoformat(filters[name])
    expected = expected_ids(app, **filters)

    records = ids_of(client.get(FEEDBACK, query_string=query, headers=bearer(token)))
    count = client.get(COUNT, query_string=query, headers=bearer(token))

    assert records == expected
    assert 0 < len(records) < 7
    assert count.json == {"count": len(records)}
    assert count.headers["Cache-Control"] == "no-store"


def test_since_selects_the_reports_changed_after_a_moment(app, client, token, reports):
    with app.app_context():
        moment = db.session.get(Ticket, reports["dispute"]).updated_at
    query = {"since": moment.isoformat()}

    records = ids_of(client.get(FEEDBACK, query_string=query, headers=bearer(token)))

    assert records == expected_ids(app, since=moment)
    assert len(records) < 7


def test_reports_without_training_consent_never_appear(app, client, token, reports):
    hidden = record_id(reports["no_consent"], app.config["SECRET_KEY"])
    with app.app_context():
        withdrawn = db.session.get(Ticket, reports["quill_bias"])
        withdraw_training_consent(withdrawn, now=utcnow())
        db.session.commit()
    also_hidden = record_id(reports["quill_bias"], app.config["SECRET_KEY"])

    seen = ids_of(client.get(FEEDBACK, headers=bearer(token)))
    seen += ids_of(
        client.get(f"{FEEDBACK}?model=aurora-chat&version_from=3.0", headers=bearer(token))
    )
    count = client.get(COUNT, headers=bearer(token)).json["count"]

    assert hidden not in seen
    assert also_hidden not in seen
    assert count == 6


BAD_PARAMETERS = [
    ("kind=complaint", "kind"),
    ("category=rude", "category"),
    ("severity=extreme", "severity"),
    ("outcome=maybe", "outcome"),
    ("language=xx", "language"),
    ("created_from=2026-13-01", "created_from"),
    ("created_from=20260101", "created_from"),
    ("created_to=9999-12-31", "created_to"),
    ("created_from=2026-10-02&created_to=2026-10-01", "created_to"),
    ("since=2026-10-01", "since"),
    ("since=2026-10-01T12:00:00", "since"),
    ("since=yesterday", "since"),
    ("since=0001-01-01T00:00:00%2B01:00", "since"),
    ("model=no-such-model", "model"),
    ("model=aurora-chat&version_from=9.9", "version_from"),
    ("model=aurora-chat&version_from=2.5&version_to=9.9", "version_to"),
    ("version_from=3.0", "version_from"),
    ("model=" + "m" * 65, "model"),
    ("model=aurora%00chat", "model"),
    ("categroy=privacy", "categroy"),
    ("kind=harm_report&kind=output_dispute", "kind"),
    ("kind=", "kind"),
]
PAGE_BAD_PARAMETERS = [
    ("limit=0", "limit"),
    ("limit=10001", "limit"),
    ("limit=three", "limit"),
    ("limit=%D9%A3", "limit"),  # an Arabic-Indic three: a digit, but not one we read
    ("limit=" + "1" * 5000, "limit"),
    ("after=", "after"),
    ("after=MTIz", "after"),
]


@pytest.mark.parametrize(("query", "parameter"), BAD_PARAMETERS + PAGE_BAD_PARAMETERS)
def test_a_bad_parameter_is_refused_naming_it(client, token, reports, query, parameter):
    response = client.get(f"{FEEDBACK}?{query}", headers=bearer(token))

    assert response.status_code == 400
    assert response.is_json
    assert response.json["parameter"] == parameter
    assert response.json["error"].startswith(f"{parameter}: ")
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("query", "parameter"), [*BAD_PARAMETERS, ("limit=3", "limit"), ("after=x", "after")]
)
def test_the_count_refuses_bad_parameters_too(client, token, registry, query, parameter):
    response = client.get(f"{COUNT}?{query}", headers=bearer(token))

    assert response.status_code == 400
    assert response.json["parameter"] == parameter


@pytest.fixture
def throttled_api(rate_limits):
    rate_limits(PORTAL_RATELIMIT_API="2 per minute")


def test_the_api_is_rate_limited_per_token(throttled_api, app, client, analyst, token):
    other = new_token(app, analyst, name="second")

    for _ in range(2):
        assert client.get(COUNT, headers=bearer(token)).status_code == 200
    refused = client.get(FEEDBACK, headers=bearer(token))

    assert refused.status_code == 429
    assert refused.is_json
    assert "error" in refused.json
    assert refused.headers["Cache-Control"] == "no-store"
    assert client.get(COUNT, headers=bearer(other)).status_code == 200


# -- the description ----------------------------------------------------------------------------


def test_the_openapi_description_lists_the_values_the_api_accepts():
    description = yaml.safe_load(OPENAPI.read_text())
    parameters = description["components"]["parameters"]

    for name, choices in CHOICES.items():
        assert parameters[name]["schema"]["enum"] == choices, name
    record = RECORD_SCHEMA["properties"]
    assert parameters["kind"]["schema"]["enum"] == record["kind"]["enum"]
    assert parameters["category"]["schema"]["enum"] == record["category"]["enum"]
    assert parameters["severity"]["schema"]["enum"] == record["severity_reported"]["enum"]
    assert parameters["outcome"]["schema"]["enum"] == [
        value for value in record["outcome"]["enum"] if value is not None
    ]
    stream = description["paths"][FEEDBACK]["get"]["responses"]["200"]["content"]
    assert stream["application/x-ndjson"]["schema"]["$ref"] == "./feedback-record.schema.json"


# Hypothesis: no example database left on disk; no deadline, as the first request of a run
# warms the database connection up; and no "too slow" health check, which measures how fast
# schemathesis generates requests (on a loaded CI machine, not the API's concern).
API_SETTINGS = settings(
    max_examples=50,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def test_the_api_answers_as_its_openapi_description_says(app, token, reports, finished_exports):
    schema = schemathesis.openapi.from_path(OPENAPI)
    headers = bearer(token)

    # Negative cases must never fail the server; whether each is refused is not checked here:
    # schemathesis also mutates the Authorization header, which the valid token given below
    # replaces (a "schema-violating request accepted" that is not one). The refusals are
    # test_a_bad_parameter_is_refused_naming_it's, parameter by parameter.
    def cases(path):
        operation = schema[path]["GET"]
        return st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        )

    @API_SETTINGS
    @given(case=cases(COUNT))
    def count_conforms(case):
        case.call_and_validate(
            app=app,
            base_url=BASE_URL,
            headers=headers,
            checks=[
                not_a_server_error,
                status_code_conformance,
                content_type_conformance,
                response_headers_conformance,
                response_schema_conformance,
            ],
        )

    # JSON Lines is not one JSON document: its lines are checked against the record schema
    # above; here, that the stream's route never fails and answers as described.
    @API_SETTINGS
    @given(case=cases(FEEDBACK))
    def stream_conforms(case):
        case.call_and_validate(
            app=app,
            base_url=BASE_URL,
            headers=headers,
            checks=[
                not_a_server_error,
                status_code_conformance,
                content_type_conformance,
                response_headers_conformance,
            ],
        )

    @API_SETTINGS
    @given(case=cases(EXPORTS))
    def list_conforms(case):
        case.call_and_validate(
            app=app,
            base_url=BASE_URL,
            headers=headers,
            checks=[
                not_a_server_error,
                status_code_conformance,
                content_type_conformance,
                response_headers_conformance,
                response_schema_conformance,
            ],
        )

    count_conforms()
    stream_conforms()
    list_conforms()


# -- finished exports: listed and downloaded with the token ----------------------------------


@pytest.fixture
def finished_exports(app, reports, analyst) -> dict[str, int]:
    """A Parquet file and a Hugging Face folder of Aurora Chat 3.0's records, requested by the
    analyst and run by the clock: {format: export id}."""
    ids = {}
    with app.app_context():
        for fmt in (ExportFormat.PARQUET, ExportFormat.HUGGING_FACE):
            export = FeedbackExport(
                format=fmt,
                filters={"model": "aurora-chat", "version_from": "3.0", "version_to": "3.0"},
                requested_by_id=analyst,
            )
            db.session.add(export)
            db.session.commit()
            ids[fmt.value] = export.id
        for _ in ids:
            exports.run_next_queued(utcnow())
    return ids


def path_of(url: str) -> str:
    return url.removeprefix(BASE_URL)


def test_an_analyst_downloads_a_redacted_parquet_file_and_a_dataset_folder_through_the_api(
    client, token, finished_exports, offline_datasets, tmp_path
):
    listed = client.get(EXPORTS, headers=bearer(token))
    assert listed.status_code == 200
    by_format = {export["format"]: export for export in listed.json["exports"]}
    assert {by_format["parquet"]["id"], by_format["hf"]["id"]} == set(finished_exports.values())

    [parquet] = by_format["parquet"]["files"]
    download = client.get(path_of(parquet["url"]), headers=bearer(token))
    data = download.data
    download.close()  # a file is sent from an open file
    assert download.status_code == 200
    assert hashlib.sha256(data).hexdigest() == parquet["sha256"]
    (tmp_path / "records.parquet").write_bytes(data)
    records = pq.read_table(tmp_path / "records.parquet").to_pylist()
    assert records, "the version has consented reports"
    assert {(r["model_slug"], r["model_version"]) for r in records} == {("aurora-chat", "3.0")}
    text = json.dumps(records, default=str)
    assert "ana.reporter@example.org" not in text
    assert "[EMAIL]" in text

    archive = client.get(path_of(by_format["hf"]["archive_url"]), headers=bearer(token))
    zipped = archive.data
    archive.close()
    assert archive.status_code == 200
    with zipfile.ZipFile(io.BytesIO(zipped)) as opened:
        opened.extractall(tmp_path / "unzipped")
    [folder] = (tmp_path / "unzipped").iterdir()
    dataset = offline_datasets.load_dataset(str(folder), cache_dir=str(tmp_path / "cache"))
    assert sum(len(dataset[split]) for split in dataset) == len(records)


def test_export_files_need_a_token_and_a_name_the_manifest_lists(client, token, finished_exports):
    parquet = finished_exports["parquet"]
    base = f"{EXPORTS}/{parquet}/files"

    assert client.get(f"{base}/records.parquet").status_code == 401
    assert client.get(f"{EXPORTS}/{parquet}/dataset.zip", headers=bearer(token)).status_code == 404
    for name in ("../manifest.json", "records.csv", "%2e%2e/%2e%2e/etc/passwd", "README.md"):
        response = client.get(f"{base}/{name}", headers=bearer(token))
        assert response.status_code == 404, name
        assert response.is_json
    manifest = client.get(f"{base}/manifest.json", headers=bearer(token))
    manifest.close()
    assert manifest.status_code == 200
    # A file to save, never a page, whichever way it is downloaded.
    assert manifest.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert manifest.headers["X-Content-Type-Options"] == "nosniff"
