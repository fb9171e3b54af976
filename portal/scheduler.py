"""The clock process: ``flask scheduler run`` is the only place a scheduler is started.

A fixed list of jobs (the SLA sweep, the follow-up, retention, redaction, feedback exports, the
outbox sender) is put into APScheduler's in-memory job store at start; nothing is stored between
runs and no job is made per ticket. Catching up after downtime is the jobs' own business (they
query for everything that is due), so the scheduler does not need to remember missed runs.
``flask scheduler tick`` runs each job once instead.

Each run gets a fresh app context from the factory the clock was given (never an app pickled
into a job), commits its work once (the outbox excepted: it records each e-mail's result as soon
as it is sent, since a delivery cannot be rolled back), and leaves a heartbeat row: when the job
last started, finished and succeeded, and the type of its last error. An exception is logged
without its message (messages can quote addresses or report text) and never stops the clock. A
job can wake another once it has run: the sweep wakes the outbox, so that escalation mail leaves
within seconds rather than at the outbox's next interval.
"""

import logging
import signal
import threading
import traceback
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from apscheduler.events import EVENT_SCHEDULER_STARTED
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger
from flask import current_app
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from portal.clock import utcnow
from portal.extensions import db
from portal.models import ClockHeartbeat
from portal.services import export_text, exports, follow_up, retention
from portal.services.outbox import SmtpSettings, deliver_due

logger = logging.getLogger(__name__)

# The heartbeat's note for a job whose code is not in this release yet: not a failure.
NOT_AVAILABLE = "not available"
# However near the next deadline, the sweep waits this long between runs: a deadline it could
# not settle (and returns again) must not make it spin.
SHORTEST_PAUSE = timedelta(seconds=1)
# Reports redacted again per run after a change of the rules (the next run takes the rest).
REDACTION_BATCH = 5000

JOB_DEFAULTS = {
    # Runs missed while the process was busy or asleep become one run, started however late:
    # APScheduler's default grace of one second would skip it.
    "coalesce": True,
    "max_instances": 1,
    "misfire_grace_time": None,
}


class JobUnavailable(Exception):
    """Raised by a job whose code is not part of this release (recorded, not counted a failure)."""


@dataclass(frozen=True)
class ClockJob:
    """One of the clock's jobs.

    ``work(now)`` runs inside an app context and leaves its changes in the session for the
    clock to commit (except the outbox's results, which it commits one by one as each e-mail is
    sent: a delivery cannot be rolled back). It may return when it next wants to run (the SLA
    sweep: the earliest pending deadline); the clock then wakes it then, but never later than
    ``max_interval`` after this run, which is also how often a job that returns nothing runs.
    """

    name: str
    work: Callable[[datetime], datetime | None]
    max_interval: timedelta
    # Jobs to wake as soon as this one has run: the sweep's e-mail leaves now, not at the
    # outbox's next interval.
    wakes: tuple[str, ...] = ()


@dataclass(frozen=True)
class JobResult:
    name: str
    error: str | None = None  # the exception's type name, or NOT_AVAILABLE

    @property
    def failed(self) -> bool:
        return self.error not in (None, NOT_AVAILABLE)


def sweep_sla(now: datetime) -> datetime | None:
    """Escalate what has fallen due; return the next pending deadline (None: there is none)."""
    try:
        from portal.services import sla
    except ModuleNotFoundError as error:
        if error.name != "portal.services.sla":
            raise
        raise JobUnavailable from None
    sweep = getattr(sla, "sweep", None)
    if sweep is None:
        raise JobUnavailable
    return sweep(now=now)


def send_outbox(now: datetime) -> None:
    """Send the e-mail that is due (``deliver_due`` claims it, so two clocks never both send)."""
    report = deliver_due(SmtpSettings.from_config(current_app.config), now=now)
    if report.sent or report.deferred or report.failed:
        logger.info(
            "outbox: sent %d, will retry %d, gave up on %d",
            report.sent,
            report.deferred,
            report.failed,
        )


def follow_up_decisions(now: datetime) -> None:
    """Ask the reporters decided some days ago whether it resolved their concern, and close the
    reports decided long enough ago."""
    follow_up.run_due(now=now)


def apply_retention(now: datetime) -> None:
    """Delete the evidence files and erase the personal data that are past their periods."""
    retention.run(now=now, dry_run=False)


def run_requested_export(now: datetime) -> None:
    """Run the oldest feedback export an analyst requested (it records its own progress)."""
    exports.run_next_queued(now)


def redact_stale_text(now: datetime) -> None:
    """Redact again, under the current rules, the reports whose export-ready text is older."""
    done = export_text.recompute_stale(limit=REDACTION_BATCH)
    if done:
        logger.info("redaction: %d reports redacted under the current rules", done)


def default_jobs(config) -> list[ClockJob]:
    """The clock's jobs, in the order ``tick`` runs them: those that may queue mail before the
    outbox."""
    return [
        ClockJob(
            "sla_sweep",
            sweep_sla,
            timedelta(seconds=config["PORTAL_SLA_SWEEP_MAX_INTERVAL_SECONDS"]),
            wakes=("outbox",),
        ),
        ClockJob(
            "follow_up",
            follow_up_decisions,
            timedelta(seconds=config["PORTAL_FOLLOW_UP_INTERVAL_SECONDS"]),
            wakes=("outbox",),
        ),
        ClockJob(
            "retention",
            apply_retention,
            timedelta(seconds=config["PORTAL_RETENTION_INTERVAL_SECONDS"]),
        ),
        ClockJob(
            "redaction",
            redact_stale_text,
            timedelta(seconds=config["PORTAL_REDACTION_INTERVAL_SECONDS"]),
        ),
        ClockJob(
            "exports",
            run_requested_export,
            timedelta(seconds=config["PORTAL_EXPORT_INTERVAL_SECONDS"]),
        ),
        ClockJob(
            "outbox", send_outbox, timedelta(seconds=config["PORTAL_OUTBOX_INTERVAL_SECONDS"])
        ),
    ]


class Clock:
    """Runs a fixed list of jobs, each in a fresh app context, and keeps their heartbeats.

    ``app_context`` is a factory such as ``app.app_context``; ``now`` is the time source.
    """

    def __init__(
        self,
        app_context: Callable[[], AbstractContextManager],
        jobs: Sequence[ClockJob],
        *,
        now: Callable[[], datetime] = utcnow,
    ):
        self._app_context = app_context
        self.jobs = {job.name: job for job in jobs}
        self._now = now
        self._scheduler: BaseScheduler | None = None
        # Held while a job reschedules itself and while stopping begins: APScheduler's
        # shutdown(wait=True) holds the job store lock while it waits for running jobs, so a
        # job that then tried to reschedule itself would wait for it forever.
        self._schedule_lock = threading.Lock()
        self._stopping = False
        # The jobs running now, and those woken meanwhile: APScheduler skips a run that would
        # overlap a running one (max_instances=1), so such a job is woken again when it ends.
        self._running: set[str] = set()
        self._woken_while_running: set[str] = set()
        self._running_lock = threading.Lock()

    def tick(self) -> list[JobResult]:
        """Run every job once, one after the other, in this thread."""
        return [self.run(name) for name in self.jobs]

    def run(self, name: str) -> JobResult:
        """Run one job: heartbeat, work, one commit; a failure is logged and recorded."""
        with self._running_lock:
            self._running.add(name)
        try:
            result, wanted, started = self._run(name)
        finally:
            with self._running_lock:
                self._running.discard(name)
                woken = name in self._woken_while_running
                self._woken_while_running.discard(name)
        job = self.jobs[name]
        if woken:
            self._wake(job, at=started, ran_at=started)
        elif wanted is not None:
            self._wake(job, at=wanted, ran_at=started)
        if not result.failed:
            for other in job.wakes:
                self.wake(other, at=started)
        return result

    def wake(self, name: str, *, at: datetime) -> None:
        """Run a job as soon as it can (after the shortest pause); if it is running now, run it
        again when it ends (what it does now may have started before the reason to wake it)."""
        with self._running_lock:
            if name in self._running:
                self._woken_while_running.add(name)
                return
        self._wake(self.jobs[name], at=at, ran_at=at)

    def _run(self, name: str) -> tuple[JobResult, datetime | None, datetime]:
        """The job's work between its heartbeats: (result, when it wants to run next, when it
        started)."""
        job = self.jobs[name]
        wanted = None
        with self._app_context():
            started = self._now()
            try:
                # Committed on its own, so that a job that hangs shows as started, not finished.
                record_heartbeat(name, last_started_at=started)
                db.session.commit()
                wanted = job.work(started)
                finished = self._now()
                record_heartbeat(
                    name, last_finished_at=finished, last_succeeded_at=finished, last_error=None
                )
                db.session.commit()
                result = JobResult(name)
            except JobUnavailable:
                db.session.rollback()
                result = self._finish_after_failure(name, NOT_AVAILABLE)
            except Exception as error:
                db.session.rollback()
                log_failure(f"clock job {name}", error)
                result = self._finish_after_failure(name, type(error).__name__)
        return result, wanted, started

    def _finish_after_failure(self, name: str, error: str) -> JobResult:
        try:
            record_heartbeat(name, last_finished_at=self._now(), last_error=error)
            db.session.commit()
        except Exception as heartbeat_error:
            db.session.rollback()
            log_failure(f"heartbeat of clock job {name}", heartbeat_error)
        return JobResult(name, error)

    def _next_run_time(self, job: ClockJob, *, wanted: datetime, ran_at: datetime) -> datetime:
        """When to run a job that asked for ``wanted``: not later than its longest interval
        after this run, not sooner than the shortest pause."""
        return min(max(wanted, ran_at + SHORTEST_PAUSE), ran_at + job.max_interval)

    def _wake(self, job: ClockJob, *, at: datetime, ran_at: datetime) -> None:
        with self._schedule_lock:
            if self._scheduler is None or self._stopping:
                return
            self._scheduler.modify_job(
                job.name, next_run_time=self._next_run_time(job, wanted=at, ran_at=ran_at)
            )

    def schedule_on(self, scheduler: BaseScheduler) -> None:
        """Add every job to ``scheduler``, each to run at once and then at its interval."""
        self._scheduler = scheduler
        for job in self.jobs.values():
            scheduler.add_job(
                self.run,
                IntervalTrigger(seconds=job.max_interval.total_seconds(), timezone=UTC),
                args=[job.name],
                id=job.name,
                name=job.name,
                next_run_time=self._now(),
                **JOB_DEFAULTS,
            )

    def stop(self) -> None:
        """Stop scheduling and wait for the jobs that are running to finish."""
        with self._schedule_lock:
            self._stopping = True
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=True)


def run_until_stopped(clock: Clock) -> None:
    """Run the clock's jobs on a BlockingScheduler until SIGTERM or SIGINT (Ctrl-C).

    The first signal stops the scheduler from a helper thread (a signal handler runs in the
    main thread, which may be inside the scheduler holding its locks) and waits for running jobs;
    further signals are ignored meanwhile. Job threads block these signals, so that they reach
    the main thread at once.
    """
    workers = ThreadPoolExecutor(pool_kwargs={"initializer": _leave_stop_signals_to_main})
    scheduler = BlockingScheduler(
        timezone=UTC, job_defaults=JOB_DEFAULTS, executors={"default": workers}
    )
    clock.schedule_on(scheduler)
    stopper = threading.Thread(target=clock.stop, name="clock-stop")
    # Popped by the first signal only: a second signal can interrupt the first one's handler.
    not_yet_stopping = [stopper]

    def request_stop(signum, _frame) -> None:
        try:
            stopping = not_yet_stopping.pop()
        except IndexError:
            return
        logger.info("%s received: stopping the clock", signal.Signals(signum).name)
        stopping.start()

    def install_signal_handlers(_event) -> None:
        # Only once the scheduler runs: before that, the default handlers end the process.
        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)

    scheduler.add_listener(install_signal_handlers, EVENT_SCHEDULER_STARTED)
    logger.info("clock started: %s", ", ".join(clock.jobs))
    scheduler.start()
    if not not_yet_stopping:
        stopper.join()
    logger.info("clock stopped")


def _leave_stop_signals_to_main() -> None:
    """Run first in each worker thread: SIGTERM and SIGINT are then delivered to the main thread.

    A signal taken by a worker thread does not interrupt the main thread's wait inside the
    scheduler, which would notice it only when it next wakes: up to a job's interval later.
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})


def record_heartbeat(name: str, **values) -> None:
    """Insert or update a job's heartbeat row (two clocks may write the first one at once)."""
    insert = {"postgresql": postgresql_insert, "sqlite": sqlite_insert}[
        db.session.get_bind().dialect.name
    ]
    statement = insert(ClockHeartbeat).values(job_name=name, **values)
    db.session.execute(
        statement.on_conflict_do_update(index_elements=[ClockHeartbeat.job_name], set_=values)
    )


@dataclass(frozen=True)
class ClockState:
    age: timedelta | None  # since a job of the clock last succeeded; None: none ever has
    silent: bool
    # The jobs whose last run failed (their type of error is in the heartbeat), by name.
    failing: tuple[str, ...] = ()


def clock_state(now: datetime, *, silent_after: timedelta, job_names) -> ClockState:
    """How long the clock has done nothing useful, whether that is longer than it should be,
    and which of its jobs are failing (a clock that runs but fails every time is not working:
    its heartbeat still finishes, but no longer succeeds). Only the heartbeats of
    ``job_names`` count: a job removed from the clock leaves its last heartbeat behind."""
    heartbeats = db.session.execute(
        sa.select(
            ClockHeartbeat.job_name, ClockHeartbeat.last_succeeded_at, ClockHeartbeat.last_error
        )
        .where(ClockHeartbeat.job_name.in_(sorted(job_names)))
        .order_by(ClockHeartbeat.job_name)
    ).all()
    last = max((row.last_succeeded_at for row in heartbeats if row.last_succeeded_at), default=None)
    age = None if last is None else now - last
    failing = tuple(
        row.job_name for row in heartbeats if row.last_error not in (None, NOT_AVAILABLE)
    )
    return ClockState(age=age, silent=age is None or age > silent_after, failing=failing)


def log_failure(what: str, error: Exception) -> None:
    """Log an exception's type and where it happened, but not its message or values."""
    logger.error(
        "%s failed: %s\n%s",
        what,
        type(error).__name__,
        "".join(traceback.format_tb(error.__traceback__)).rstrip(),
    )
