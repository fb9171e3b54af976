"""The clock process: a fixed list of jobs, each run in a fresh app context with one commit and a
heartbeat; the SLA sweep wakes at its next deadline; ``flask scheduler run`` is a real process
that sends mail and stops cleanly; ``create_app`` never starts a scheduler."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import types
import urllib.request
from datetime import timedelta

import pytest
import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler

import portal.services
from portal import create_app
from portal.clock import utcnow
from portal.config import PROJECT_ROOT, config_from_environment, configuration_problems
from portal.extensions import db
from portal.models import ClockHeartbeat, OutboxMessage, OutboxStatus, Team
from portal.scheduler import (
    JOB_DEFAULTS,
    NOT_AVAILABLE,
    Clock,
    ClockJob,
    JobUnavailable,
    default_jobs,
    sweep_sla,
)
from tests.conftest import base_config
from tests.test_outbox import free_port, queue_confirmation, smtp_server

FLASK = str(PROJECT_ROOT / ".venv" / "bin" / "flask")
# Bounds for waiting on real processes and threads: generous, as they are only reached on failure.
PATIENCE_SECONDS = 20


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def app_config(app_config, smtp_port):
    app_config.update(PORTAL_SMTP_PORT=smtp_port, PORTAL_SMTP_TIMEOUT=5)
    return app_config


@pytest.fixture
def mail_server(smtp_port):
    with smtp_server(smtp_port) as mailbox:
        yield mailbox


def heartbeat(app, name: str) -> ClockHeartbeat | None:
    with app.app_context():
        return db.session.get(ClockHeartbeat, name)


def team_slugs(app) -> list[str]:
    with app.app_context():
        return db.session.scalars(sa.select(Team.slug).order_by(Team.slug)).all()


def add_team(slug: str):
    """A job's work: add a team (left for the clock to commit)."""

    def work(_now):
        db.session.add(Team(slug=slug, name=slug))

    return work


def wait_until(condition, *, timeout=PATIENCE_SECONDS, interval=0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


# -- the web process ------------------------------------------------------------------------------


def test_creating_the_app_starts_no_scheduler(app_config):
    threads_before = set(threading.enumerate())

    app = create_app(app_config)
    response = app.test_client().get("/healthz")
    with app.app_context():
        db.engine.dispose()

    assert response.status_code == 200
    assert set(threading.enumerate()) - threads_before == set()


# -- running jobs ---------------------------------------------------------------------------------


def test_tick_runs_every_job_once_and_leaves_a_heartbeat(app, mail_server):
    reference, _token = queue_confirmation(app)

    result = app.test_cli_runner().invoke(args=["scheduler", "tick"])

    assert result.exit_code == 0, result.output
    # The jobs that queue e-mail go first: what they queue leaves in the same tick.
    assert [line.split(":")[0] for line in result.output.splitlines()] == [
        "sla_sweep",
        "follow_up",
        "retention",
        "redaction",
        "exports",
        "outbox",
    ]
    assert "outbox: ok" in result.output
    [mail] = mail_server.received
    assert mail.message["Subject"] == f"We received your report {reference}"
    for job in default_jobs(app.config):
        beat = heartbeat(app, job.name)
        assert beat.last_started_at <= beat.last_finished_at
    assert heartbeat(app, "outbox").last_error is None


def test_tick_exits_1_when_a_job_fails(tmp_path):
    app = create_app(base_config("sqlite:////nonexistent-directory/redress.sqlite3", tmp_path))

    result = app.test_cli_runner().invoke(args=["scheduler", "tick"])

    assert result.exit_code == 1
    assert "outbox: OperationalError" in result.output


def test_a_job_commits_its_work_with_its_heartbeat(app):
    moment = utcnow()
    clock = Clock(app.app_context, [ClockJob("adds", add_team("red"), timedelta(seconds=30))])

    [result] = clock.tick()

    assert not result.failed
    assert team_slugs(app) == ["red"]
    beat = heartbeat(app, "adds")
    assert beat.last_started_at >= moment
    assert beat.last_finished_at >= beat.last_started_at
    assert beat.last_succeeded_at == beat.last_finished_at
    assert beat.last_error is None


def test_a_failing_job_keeps_none_of_its_work_is_logged_without_its_message_and_stops_nothing(
    app, caplog
):
    address = "reporter@example.org"  # personal data arrives at run time, not in the source

    def fails(_now):
        db.session.add(Team(slug="half-done", name="Half done"))
        db.session.flush()
        raise RuntimeError(f"could not write to {address}")

    clock = Clock(
        app.app_context,
        [
            ClockJob("fails", fails, timedelta(seconds=30)),
            ClockJob("works", add_team("blue"), timedelta(seconds=30)),
        ],
    )

    results = clock.tick()

    assert [(result.name, result.error, result.failed) for result in results] == [
        ("fails", "RuntimeError", True),
        ("works", None, False),
    ]
    assert team_slugs(app) == ["blue"]
    assert heartbeat(app, "fails").last_error == "RuntimeError"
    assert heartbeat(app, "fails").last_finished_at is not None
    assert heartbeat(app, "fails").last_succeeded_at is None  # monitoring sees it failing
    assert "clock job fails failed: RuntimeError" in caplog.text
    assert "reporter@example.org" not in caplog.text


def test_a_job_that_is_not_in_this_release_is_noted_not_failed(app):
    def unavailable(_now):
        raise JobUnavailable

    clock = Clock(app.app_context, [ClockJob("later", unavailable, timedelta(seconds=30))])

    [result] = clock.tick()

    assert (result.error, result.failed) == (NOT_AVAILABLE, False)
    assert heartbeat(app, "later").last_error == NOT_AVAILABLE


def test_the_sweep_job_is_not_available_while_the_sla_module_is_missing(app, monkeypatch):
    monkeypatch.delattr(portal.services, "sla", raising=False)
    monkeypatch.setitem(sys.modules, "portal.services.sla", None)

    with pytest.raises(JobUnavailable):
        sweep_sla(utcnow())


def test_the_sweep_job_calls_the_sla_sweep_and_passes_on_its_next_deadline(monkeypatch):
    now = utcnow()
    calls = []

    def sweep(*, now):
        calls.append(now)
        return now + timedelta(minutes=5)

    monkeypatch.setattr(portal.services, "sla", types.SimpleNamespace(sweep=sweep), raising=False)

    assert sweep_sla(now) == now + timedelta(minutes=5)
    assert calls == [now]


# -- waking the sweep at its deadline -------------------------------------------------------------


@pytest.mark.parametrize(
    ("deadline_in", "wakes_in"),
    [
        (timedelta(seconds=10), timedelta(seconds=10)),
        (timedelta(hours=3), timedelta(seconds=60)),  # never later than the longest interval
        (timedelta(seconds=-5), timedelta(seconds=1)),  # overdue: soon, but without spinning
    ],
    ids=["near", "far", "overdue"],
)
def test_the_sweep_is_woken_at_its_next_deadline_within_its_longest_interval(
    app, deadline_in, wakes_in
):
    now = utcnow()
    sweep = ClockJob("sla_sweep", lambda now: now + deadline_in, timedelta(seconds=60))
    clock = Clock(app.app_context, [sweep], now=lambda: now)
    scheduler = BackgroundScheduler(timezone="UTC")
    clock.schedule_on(scheduler)
    scheduler.start(paused=True)
    try:
        clock.run("sla_sweep")
        next_run = scheduler.get_job("sla_sweep").next_run_time
    finally:
        scheduler.shutdown(wait=False)

    assert next_run == now + wakes_in


def test_jobs_are_scheduled_to_coalesce_one_at_a_time_and_run_however_late(app):
    clock = Clock(app.app_context, default_jobs(app.config))
    scheduler = BackgroundScheduler(timezone="UTC")
    clock.schedule_on(scheduler)
    scheduler.start(paused=True)
    try:
        jobs = scheduler.get_jobs()
    finally:
        scheduler.shutdown(wait=False)

    assert sorted(job.id for job in jobs) == [
        "exports",
        "follow_up",
        "outbox",
        "redaction",
        "retention",
        "sla_sweep",
    ]
    assert JOB_DEFAULTS == {"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
    for job in jobs:
        assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, None)


def test_a_running_clock_sweeps_again_at_the_deadline_the_sweep_gave(app):
    runs = []

    def sweep(now):
        runs.append(time.monotonic())
        return now + timedelta(seconds=1.5) if len(runs) == 1 else None

    clock = Clock(app.app_context, [ClockJob("sla_sweep", sweep, timedelta(seconds=60))])
    scheduler = BackgroundScheduler(timezone="UTC")
    clock.schedule_on(scheduler)
    scheduler.start()
    try:
        swept_twice = wait_until(lambda: len(runs) >= 2, timeout=10)
    finally:
        clock.stop()

    assert swept_twice
    assert 1.3 <= runs[1] - runs[0] < 5


def test_the_outbox_runs_straight_after_the_sweep_not_at_its_next_interval(app):
    runs = []

    def sweep(now):
        # A sweep that has queued mail; the next one is an hour away.
        runs.append(("sla_sweep", time.monotonic()))
        return now + timedelta(hours=1)

    def send(_now):
        runs.append(("outbox", time.monotonic()))

    clock = Clock(
        app.app_context,
        [
            ClockJob("outbox", send, timedelta(hours=1)),
            ClockJob("sla_sweep", sweep, timedelta(hours=1), wakes=("outbox",)),
        ],
    )
    scheduler = BackgroundScheduler(timezone="UTC")
    clock.schedule_on(scheduler)
    scheduler.start()
    try:
        sent_again = wait_until(lambda: [name for name, _ in runs].count("outbox") >= 2, timeout=10)
    finally:
        clock.stop()

    assert sent_again, runs
    swept_at = next(moment for name, moment in runs if name == "sla_sweep")
    assert runs[-1][0] == "outbox"
    assert 0 < runs[-1][1] - swept_at < 5  # the outbox's own interval is an hour


def test_an_outbox_woken_while_it_is_sending_runs_again_when_it_ends(app):
    """Mail the sweep queues while the outbox is busy was not in the outbox's batch: the run
    the scheduler would skip (one instance at a time) happens as soon as the busy one ends."""
    sending = threading.Event()
    swept = threading.Event()
    outbox_runs = []

    def send(_now):
        outbox_runs.append(time.monotonic())
        if len(outbox_runs) == 1:
            sending.set()
            swept.wait(timeout=10)
            time.sleep(1.5)  # still busy when the sweep's wake-up call falls due

    def sweep(now):
        sending.wait(timeout=10)
        swept.set()  # it has queued mail, and wakes the outbox once it returns
        return now + timedelta(hours=1)

    clock = Clock(
        app.app_context,
        [
            ClockJob("outbox", send, timedelta(hours=1)),
            ClockJob("sla_sweep", sweep, timedelta(hours=1), wakes=("outbox",)),
        ],
    )
    scheduler = BackgroundScheduler(timezone="UTC")
    clock.schedule_on(scheduler)
    scheduler.start()
    try:
        ran_again = wait_until(lambda: len(outbox_runs) >= 2, timeout=10)
    finally:
        clock.stop()

    assert ran_again, "the outbox waited for its next interval (an hour)"


def test_stopping_waits_for_a_running_job_that_reschedules_itself(app):
    stopping = threading.Event()
    finished = threading.Event()

    def slow_sweep(now):
        stopping.wait(timeout=10)
        time.sleep(0.3)  # the scheduler is shutting down meanwhile
        finished.set()
        return now + timedelta(seconds=5)

    clock = Clock(app.app_context, [ClockJob("sla_sweep", slow_sweep, timedelta(seconds=60))])
    scheduler = BackgroundScheduler(timezone="UTC")
    clock.schedule_on(scheduler)
    scheduler.start()
    assert wait_until(lambda: heartbeat(app, "sla_sweep") is not None, timeout=10)

    stopper = threading.Thread(target=clock.stop)
    stopping.set()
    stopper.start()
    stopper.join(timeout=10)

    assert not stopper.is_alive(), "stopping the clock deadlocked"
    assert finished.is_set()
    assert heartbeat(app, "sla_sweep").last_finished_at is not None


# -- configuration --------------------------------------------------------------------------------


def test_the_clock_settings_come_from_the_environment():
    environment = {
        "PORTAL_OUTBOX_INTERVAL_SECONDS": "10",
        "PORTAL_SLA_SWEEP_MAX_INTERVAL_SECONDS": "20",
        "PORTAL_CLOCK_SILENT_AFTER_SECONDS": "120",
    }

    assert config_from_environment(environment) == {
        "PORTAL_OUTBOX_INTERVAL_SECONDS": 10,
        "PORTAL_SLA_SWEEP_MAX_INTERVAL_SECONDS": 20,
        "PORTAL_CLOCK_SILENT_AFTER_SECONDS": 120,
    }


def test_a_silence_threshold_shorter_than_an_interval_is_refused(app):
    config = {**app.config, "PORTAL_CLOCK_SILENT_AFTER_SECONDS": 60}
    config["PORTAL_SLA_SWEEP_MAX_INTERVAL_SECONDS"] = 60

    problems = configuration_problems(config)

    assert any("PORTAL_CLOCK_SILENT_AFTER_SECONDS must be longer" in p for p in problems)
    config["PORTAL_OUTBOX_INTERVAL_SECONDS"] = 0
    assert any(
        "PORTAL_OUTBOX_INTERVAL_SECONDS must be" in p for p in configuration_problems(config)
    )


# -- real processes -------------------------------------------------------------------------------


def process_environment(database_url: str, smtp_port: int, tmp_path) -> dict:
    return {
        **os.environ,
        "FLASK_APP": "app",
        "PORTAL_ENV": "development",
        "DATABASE_URL": database_url,
        "PORTAL_SMTP_HOST": "127.0.0.1",
        "PORTAL_SMTP_PORT": str(smtp_port),
        "PORTAL_UPLOAD_DIR": str(tmp_path / "uploads"),
    }


def test_flask_scheduler_run_sends_due_mail_and_stops_cleanly_on_sigterm(
    app, database_url, smtp_port, mail_server, tmp_path
):
    reference, _token = queue_confirmation(app)
    log = tmp_path / "clock.log"

    with log.open("w") as output:
        clock = subprocess.Popen(
            [FLASK, "scheduler", "run"],
            cwd=PROJECT_ROOT,
            env=process_environment(database_url, smtp_port, tmp_path),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            delivered = wait_until(lambda: mail_server.received or clock.poll() is not None)
            recorded = wait_until(
                lambda: (beat := heartbeat(app, "outbox")) and beat.last_finished_at
            )
            clock.send_signal(signal.SIGTERM)
            returncode = clock.wait(timeout=PATIENCE_SECONDS)
        finally:
            if clock.poll() is None:
                clock.kill()
                clock.wait()

    printed = log.read_text()
    assert delivered, printed
    assert mail_server.received, printed
    [mail] = mail_server.received
    assert mail.message["Subject"] == f"We received your report {reference}"
    assert recorded, printed
    assert heartbeat(app, "outbox").last_error is None
    with app.app_context():
        assert db.session.scalars(sa.select(OutboxMessage.status)).one() is OutboxStatus.SENT
    assert returncode == 0, printed
    assert "SIGTERM received: stopping the clock" in printed
    assert "clock stopped" in printed
    assert "Traceback" not in printed


def get_health(port: int) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return json.load(response)
    except OSError:
        return None


def test_make_run_starts_the_web_server_and_the_clock_and_ctrl_c_stops_both(
    app, database_url, smtp_port, tmp_path
):
    port = free_port()
    log = tmp_path / "devserver.log"

    with log.open("w") as output:
        # Its own process group, as a terminal gives: Ctrl-C signals the whole group.
        devserver = subprocess.Popen(
            [sys.executable, "-m", "portal.devserver", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env=process_environment(database_url, smtp_port, tmp_path),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            # The web server answers, and the clock has run (its heartbeat has an age).
            both_up = wait_until(
                lambda: (
                    ((health := get_health(port)) and health["clock_age_seconds"] is not None)
                    or devserver.poll() is not None
                ),
                interval=0.2,
            )
            os.killpg(devserver.pid, signal.SIGINT)
            returncode = devserver.wait(timeout=PATIENCE_SECONDS)
        finally:
            if devserver.poll() is None:
                os.killpg(devserver.pid, signal.SIGKILL)
                devserver.wait()

    printed = log.read_text()
    assert both_up, printed
    assert returncode == 0, printed
    assert "SIGINT received: stopping the clock" in printed
    assert get_health(port) is None
    with pytest.raises(ProcessLookupError):
        os.killpg(devserver.pid, 0)  # nothing of the group is left running
