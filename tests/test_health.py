"""/healthz tells monitoring whether the database answers and how long the clock process has
been silent; staff pages warn while it is silent, and nobody else sees that."""

from datetime import timedelta

import pytest

from portal import create_app
from portal.clock import utcnow
from portal.extensions import db
from portal.scheduler import record_heartbeat
from tests.conftest import base_config
from tests.factories import make_staff
from tests.signing_in import sign_in

SILENT_AFTER = timedelta(seconds=300)  # PORTAL_CLOCK_SILENT_AFTER_SECONDS's default


def clock_last_ran(app, ago: timedelta, *, job: str = "outbox", error: str | None = None) -> None:
    """Leave the heartbeat of a run of ``job`` that finished ``ago``: a success, or a failure
    with ``error`` (after which the job's last success stays what it was)."""
    with app.app_context():
        finished = utcnow() - ago
        outcome = (
            {"last_error": error} if error else {"last_succeeded_at": finished, "last_error": None}
        )
        record_heartbeat(
            job,
            last_started_at=finished - timedelta(seconds=1),
            last_finished_at=finished,
            **outcome,
        )
        db.session.commit()


def test_health_reports_the_database_and_a_clock_that_never_ran(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json == {
        "status": "clock silent",
        "database": "ok",
        "clock_age_seconds": None,
        "failing_jobs": [],
    }
    assert response.headers["Cache-Control"] == "no-store"


def test_health_gives_the_age_of_the_clocks_last_run(app, client):
    clock_last_ran(app, timedelta(seconds=42))

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json["status"] == "ok"
    assert 42 <= response.json["clock_age_seconds"] < 60


def test_a_clock_quiet_for_longer_than_the_threshold_is_silent(app, client):
    clock_last_ran(app, SILENT_AFTER + timedelta(seconds=5))

    response = client.get("/healthz")

    assert response.status_code == 200  # the web server itself is fine
    assert response.json["status"] == "clock silent"
    assert response.json["clock_age_seconds"] >= SILENT_AFTER.total_seconds()


def test_a_clock_whose_job_fails_every_time_is_failing_then_silent(app, client):
    clock_last_ran(app, timedelta(minutes=1), job="sla_sweep")
    clock_last_ran(app, timedelta(seconds=5), job="sla_sweep", error="OperationalError")

    response = client.get("/healthz?require=clock")

    assert response.status_code == 503
    assert response.json["status"] == "clock failing"
    assert response.json["failing_jobs"] == ["sla_sweep"]
    # Its age counts from the last run that worked, not from the failures that keep finishing.
    assert response.json["clock_age_seconds"] >= 60

    clock_last_ran(app, SILENT_AFTER, job="sla_sweep")  # how long ago the last success was
    clock_last_ran(app, timedelta(seconds=1), job="sla_sweep", error="OperationalError")

    assert client.get("/healthz").json["status"] == "clock silent"


def test_the_heartbeat_of_a_job_the_clock_no_longer_runs_is_ignored(app, client):
    clock_last_ran(app, timedelta(seconds=3), job="outbox")
    clock_last_ran(app, timedelta(days=30), job="retired_job", error="RuntimeError")

    response = client.get("/healthz?require=clock")

    assert response.status_code == 200
    assert response.json["failing_jobs"] == []


def test_a_job_that_succeeds_again_is_no_longer_failing(app, client):
    clock_last_ran(app, timedelta(seconds=30), job="outbox", error="SMTPException")
    clock_last_ran(app, timedelta(seconds=2), job="outbox")

    response = client.get("/healthz?require=clock")

    assert response.status_code == 200
    assert response.json["status"] == "ok"
    assert response.json["failing_jobs"] == []


@pytest.mark.parametrize(
    ("last_ran", "status"),
    [(None, 503), (SILENT_AFTER + timedelta(seconds=5), 503), (timedelta(seconds=5), 200)],
    ids=["never", "too-long-ago", "recently"],
)
def test_a_monitor_that_requires_the_clock_gets_503_while_it_is_silent(
    app, client, last_ran, status
):
    if last_ran is not None:
        clock_last_ran(app, last_ran)

    response = client.get("/healthz?require=clock")

    assert response.status_code == status


@pytest.fixture
def an_hour_of_silence_allowed(app_config):
    app_config["PORTAL_CLOCK_SILENT_AFTER_SECONDS"] = 3600


def test_the_silence_threshold_is_configured(an_hour_of_silence_allowed, app, client):
    clock_last_ran(app, SILENT_AFTER + timedelta(seconds=5))

    response = client.get("/healthz?require=clock")

    assert response.status_code == 200
    assert response.json["status"] == "ok"


def test_health_answers_503_when_the_database_does_not(tmp_path):
    app = create_app(base_config("sqlite:////nonexistent-directory/redress.sqlite3", tmp_path))

    response = app.test_client().get("/healthz")

    assert response.status_code == 503
    assert response.json == {"status": "database unavailable", "database": "unavailable"}


# -- the staff pages' warning ---------------------------------------------------------------------

NEVER_RAN = "The clock process has not run yet"
RAN_LONG_AGO = "The clock process last ran 10 minutes ago"


@pytest.fixture
def staff_client(app, client):
    make_staff(app)
    sign_in(client)
    return client


def test_staff_are_warned_while_the_clock_has_never_run(staff_client):
    page = staff_client.get("/staff/queue").get_data(as_text=True)

    assert NEVER_RAN in page


def test_staff_are_told_how_long_the_clock_has_been_silent(app, staff_client):
    clock_last_ran(app, timedelta(minutes=10))

    page = staff_client.get("/staff/queue").get_data(as_text=True)

    assert RAN_LONG_AGO in page


def test_staff_see_no_warning_while_the_clock_runs(app, staff_client):
    clock_last_ran(app, timedelta(seconds=20))

    page = staff_client.get("/staff/queue").get_data(as_text=True)

    assert "The clock process" not in page


def test_staff_are_told_which_of_the_clocks_jobs_are_failing(app, staff_client):
    clock_last_ran(app, timedelta(seconds=10), job="outbox")
    clock_last_ran(app, timedelta(seconds=5), job="sla_sweep", error="OperationalError")

    page = staff_client.get("/staff/queue").get_data(as_text=True)

    assert "The clock process is running, but its last attempt failed at: checking deadlines" in (
        " ".join(page.split())
    )
    assert "OperationalError" not in page  # the log is the place for the details


def test_visitors_who_are_not_staff_never_see_the_warning(client):
    page = client.get("/").get_data(as_text=True)

    assert "The clock process" not in page
