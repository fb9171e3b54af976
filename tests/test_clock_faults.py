"""The SLA sweep under faults: several real ``flask scheduler run`` processes, killed with
SIGKILL at random (some while they hold a transaction open) and restarted, still take every
due escalation step exactly once, with its event, its audit entry and its e-mail; a clock that
was down catches up in one sweep. A copy of the sweep without the claim shows that the checker
catches the duplicates it guards against.

The deadlines are in the past (as good as deadlines falling during the test, and the clock
runs on the real time), apart from a few warnings placed a few seconds into the chaos.
"""

import json
import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from portal.clock import utcnow
from portal.config import PROJECT_ROOT
from portal.extensions import db
from portal.models import (
    Actor,
    AuditEntry,
    EscalationLevel,
    OutboxMessage,
    Role,
    SlaEscalation,
    Ticket,
    TicketEvent,
    Timer,
)
from portal.services import audit, sla
from portal.services.outbox import queue_email
from tests.factories import make_staff, make_ticket, route_everything_to
from tests.test_outbox import free_port

FLASK = str(PROJECT_ROOT / ".venv" / "bin" / "flask")
PATIENCE_SECONDS = 20  # waiting on a process that should end: reached only on failure

OWNER = "owner@example.org"
ADMIN = "admin@example.org"
# What each step's e-mail says (English: the staff have no working language), and to whom.
SUBJECT_MARKS = {
    EscalationLevel.WARNING: "due soon",
    EscalationLevel.BREACH: "missed its",
    EscalationLevel.ADMINS: "Escalation:",
}
RECIPIENT = {
    EscalationLevel.WARNING: OWNER,  # nobody is assigned: the team's owner is warned
    EscalationLevel.BREACH: OWNER,
    EscalationLevel.ADMINS: ADMIN,
}
# A critical ticket's steps, from its submission (round the clock): first response warned at
# 45 minutes, breached at 60, administrators at 90; resolution at 18, 24 and 36 hours.
STEP_OFFSETS = [timedelta(minutes=m) for m in (45, 60, 90, 18 * 60, 24 * 60, 36 * 60)]

CLOCKS = 3
CHAOS_SECONDS = 12
# A busy machine (CI runs the browser tests beside this one) kills less often in that time:
# the chaos goes on until these many kills, one inside a transaction, within the hard limit.
MIN_KILLS = 10
CHAOS_LIMIT_SECONDS = 45
PAST_TICKETS = 170
DURING_TICKETS = 30  # whose first warning falls a few seconds into the chaos
# Fewer than half the steps due at the start taken after this long: the killing pauses until
# the clocks have taken half (within CHAOS_LIMIT_SECONDS), so that the final tick is not the
# one doing the work.
CALM_AFTER_SECONDS = 4


@pytest.fixture
def staffed(app, registry):
    """Every report goes to Trust and Safety, which has one owner; there is one administrator."""
    with app.app_context():
        route_everything_to("trust-safety")
        db.session.commit()
    make_staff(app, ADMIN, roles=(Role.ADMIN,), name="Ada Admin")
    make_staff(app, OWNER, roles=(Role.OWNER,), name="Olu Owner", team_slugs=("trust-safety",))


def clear_of_steps(age: timedelta, margin: timedelta) -> bool:
    """No step of a ticket this old falls due within ``margin`` of now."""
    return all(abs(age - offset) > margin for offset in STEP_OFFSETS)


def file_critical_tickets(app, ages: list[timedelta]) -> None:
    """Unassigned critical tickets submitted ``ages`` ago; committed."""
    now = utcnow()
    with app.app_context():
        for age in ages:
            make_ticket(app, now=now - age, reporter_severity="critical")
        db.session.commit()


def redate(app, count: int, *, first_warning_at: datetime, spacing: timedelta) -> None:
    """Move the first ``count`` tickets' submission so that their first warnings fall from
    ``first_warning_at`` on, ``spacing`` apart (their deadlines recomputed); committed."""
    with app.app_context():
        tickets = db.session.scalars(sa.select(Ticket).order_by(Ticket.id).limit(count)).all()
        for index, ticket in enumerate(tickets):
            ticket.created_at = first_warning_at + index * spacing - STEP_OFFSETS[0]
            sla.recompute_deadlines(ticket)
        db.session.commit()


# -- the checker ----------------------------------------------------------------------------------


def due_steps(ticket: Ticket, at: datetime) -> set[tuple]:
    """(timer, deadline, level) of every step of the ticket due by ``at``."""
    _terms, calendar = sla.calendar_for(ticket)
    return {
        (running.timer, running.deadline, level)
        for running in sla.running_timers(ticket)
        for level, due in running.step_times(calendar)
        if due <= at
    }


def step_of(detail: dict) -> tuple:
    return (
        Timer(detail["timer"]),
        datetime.fromisoformat(detail["deadline"]),
        EscalationLevel(detail["level"]),
    )


def exactly_once_problems(app, at: datetime) -> list[str]:
    """Everything wrong with the escalations of every ticket, given that the steps due by ``at``
    (and no others) should have been taken: each exactly once, with one event, one audit entry
    and one e-mail to its one recipient. An empty list: nothing wrong."""
    problems = []
    with app.app_context():
        session = db.session
        tickets = session.scalars(sa.select(Ticket).order_by(Ticket.id)).all()
        rows = Counter(
            (ticket_id, (timer, deadline, level))
            for ticket_id, timer, deadline, level in session.execute(
                sa.select(
                    SlaEscalation.ticket_id,
                    SlaEscalation.timer,
                    SlaEscalation.deadline,
                    SlaEscalation.level,
                )
            )
        )
        events = Counter(
            (ticket_id, step_of(detail))
            for ticket_id, detail in session.execute(
                sa.select(TicketEvent.ticket_id, TicketEvent.detail).where(
                    TicketEvent.kind.in_(list(sla.STEP_EVENTS.values()))
                )
            )
        )
        audited = Counter(
            (reference, step_of(json.loads(payload)["detail"]))
            for reference, payload in session.execute(
                sa.select(AuditEntry.object_id, AuditEntry.payload).where(
                    AuditEntry.action.like("ticket.sla_%")
                )
            )
        )
        mail = Counter(
            (ticket_id, address, level)
            for ticket_id, address, subject in session.execute(
                sa.select(
                    OutboxMessage.ticket_id, OutboxMessage.to_address, OutboxMessage.subject
                ).where(OutboxMessage.to_address.in_([OWNER, ADMIN]))
            )
            for level, mark in SUBJECT_MARKS.items()
            if mark in subject
        )
        for ticket in tickets:
            expected = due_steps(ticket, at)
            ref = ticket.reference

            def compare(what, counted, key, expected=expected, ref=ref):
                found = {step: n for (owner, step), n in counted.items() if owner == key}
                for step in expected - found.keys():
                    problems.append(f"{ref}: no {what} for {step}")
                for step, n in found.items():
                    if step not in expected:
                        problems.append(f"{ref}: {what} for {step}, not due")
                    elif n != 1:
                        problems.append(f"{ref}: {what} recorded {n} times for {step}")

            compare("escalation", rows, ticket.id)
            compare("event", events, ticket.id)
            compare("audit entry", audited, ref)
            wanted = Counter((RECIPIENT[level], level) for _timer, _deadline, level in expected)
            sent = Counter(
                {
                    (address, level): n
                    for (tid, address, level), n in mail.items()
                    if tid == ticket.id
                }
            )
            if sent != wanted:
                problems.append(f"{ref}: e-mails {dict(sent)}, expected {dict(wanted)}")
        verified = audit.verify(secret_key=app.config["SECRET_KEY"])
        if not verified.ok:
            problems.append(f"audit chain broken at {verified.first_bad_seq}: {verified.reason}")
    return problems


def escalation_count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(SlaEscalation))


# -- the sweep without the claim: what the harness must catch --------------------------------------


def sweep_without_the_claim(*, now: datetime, everyone_has_read: threading.Barrier) -> None:
    """``sla.sweep`` as it would be without its claim: the due tickets are read with no lock,
    and each step writes its event and e-mail before an escalation row that only ignores a
    conflict. Leaves the ticket itself alone (its optimistic lock would stop a second writer).
    Every caller reads before anyone writes, so the race is certain, not left to timing."""
    due = db.session.scalars(
        sa.select(Ticket)
        .where(sla.ESCALATION_DUE, Ticket.next_escalation_at <= now)
        .order_by(Ticket.next_escalation_at, Ticket.id)
    ).all()
    work = []
    for ticket in due:
        _terms, calendar = sla.calendar_for(ticket)
        work += [(ticket, step) for at, step in sla.pending_steps(ticket, calendar) if at <= now]
    everyone_has_read.wait(timeout=PATIENCE_SECONDS)
    insert = {"postgresql": postgresql_insert, "sqlite": sqlite_insert}[
        db.session.get_bind().dialect.name
    ]
    for ticket, (timer, deadline, level) in work:
        db.session.add(
            TicketEvent(
                ticket_id=ticket.id,
                kind=sla.STEP_EVENTS[level],
                actor=Actor.SYSTEM,
                is_public=False,
                created_at=now,
                detail={
                    "timer": timer.value,
                    "deadline": deadline.isoformat(),
                    "level": level.value,
                },
            )
        )
        for person in sla.recipients(ticket, level):
            queue_email(
                to=person.email,
                template=f"sla_{level.value}",
                locale="en",
                now=now,
                ticket=ticket,
                reference=ticket.reference,
                timer=timer,
                deadline=deadline,
                zone=ticket.team.timezone,
                case_url=f"http://redress.test/staff/tickets/{ticket.reference}",
            )
        db.session.execute(
            insert(SlaEscalation)
            .values(
                ticket_id=ticket.id, timer=timer, deadline=deadline, level=level, created_at=now
            )
            .on_conflict_do_nothing()
        )


def sweep_in_threads(app, sweep, threads: int) -> list[BaseException]:
    """Run ``sweep(now=...)`` from ``threads`` threads at once, each in its own app context and
    committing its work; returns what they raised."""
    now = utcnow()
    errors = []

    def one() -> None:
        try:
            with app.app_context():
                sweep(now=now)
                db.session.commit()
        except BaseException as error:  # reported to the test, not lost in the thread
            errors.append(error)

    workers = [threading.Thread(target=one) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=PATIENCE_SECONDS)
    assert not any(worker.is_alive() for worker in workers), "a sweep thread hung"
    return errors


OVERDUE_AGES = [
    age
    # More tickets than one batch of the sweep: one sweep must still take them all.
    for age in (timedelta(minutes=100 + 7 * i) for i in range(300))
    if clear_of_steps(age, timedelta(minutes=2))
]


def test_the_checker_catches_the_duplicates_of_a_sweep_without_the_claim(app, staffed):
    file_critical_tickets(app, OVERDUE_AGES[:20])
    barrier = threading.Barrier(CLOCKS)

    errors = sweep_in_threads(
        app,
        lambda now: sweep_without_the_claim(now=now, everyone_has_read=barrier),
        CLOCKS,
    )

    assert errors == []
    problems = exactly_once_problems(app, utcnow())
    assert problems, "the checker did not notice steps taken several times"
    assert any(f"event recorded {CLOCKS} times" in problem for problem in problems), problems[:5]
    assert any(f"audit entry recorded {CLOCKS} times" in problem for problem in problems), problems[
        :5
    ]
    assert any("e-mails" in problem for problem in problems), problems[:5]
    # The unique key alone kept the escalation rows single: it does not prevent this.
    assert not any("escalation recorded" in problem for problem in problems), problems[:5]


def test_the_real_sweep_run_from_several_threads_at_once_passes_the_checker(app, staffed):
    file_critical_tickets(app, OVERDUE_AGES[:20])

    errors = sweep_in_threads(app, lambda now: sla.sweep(now=now), CLOCKS)

    assert errors == []
    assert exactly_once_problems(app, utcnow()) == []


# -- real clock processes ------------------------------------------------------------------------


def clock_environment(app, database_url: str, tmp_path: Path, name: str) -> dict:
    return {
        **os.environ,
        "FLASK_APP": "app",
        "PORTAL_ENV": "development",
        "DATABASE_URL": database_url,
        # The audit chain is keyed with the test app's key, so that the checker can verify it.
        "PORTAL_SECRET_KEY": app.config["SECRET_KEY"],
        "PORTAL_BASE_URL": app.config["PORTAL_BASE_URL"],
        "PORTAL_UPLOAD_DIR": str(tmp_path / "uploads"),
        # Nobody listens there: mail stays in the outbox, where the checker counts it.
        "PORTAL_SMTP_HOST": "127.0.0.1",
        "PORTAL_SMTP_PORT": str(free_port()),
        "PORTAL_SMTP_TIMEOUT": "1",
        "PORTAL_SLA_SWEEP_MAX_INTERVAL_SECONDS": "2",
        "PORTAL_OUTBOX_INTERVAL_SECONDS": "3",
        "PORTAL_CLOCK_SILENT_AFTER_SECONDS": "30",
        "PGAPPNAME": name,  # how the PostgreSQL side tells the clocks apart
    }


def flask_tick(app, database_url: str, tmp_path: Path) -> str:
    done = subprocess.run(
        [FLASK, "scheduler", "tick"],
        cwd=PROJECT_ROOT,
        env=clock_environment(app, database_url, tmp_path, "faultclock-tick"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "sla_sweep: ok" in done.stdout, done.stdout + done.stderr
    return done.stdout


class InTransaction:
    """Which clock processes hold a transaction open right now.

    PostgreSQL: their sessions (named by PGAPPNAME) with a transaction started. SQLite (WAL):
    the processes holding the write lock, a POSIX lock on byte 120 of the ``-shm`` file, as
    listed in /proc/locks (BEGIN IMMEDIATE takes it, the commit or the process's death ends it).
    """

    def __init__(self, database_url: str):
        self.url = sa.make_url(database_url)
        self.engine = None
        if self.url.get_backend_name() == "postgresql":
            self.engine = sa.create_engine(self.url, poolclass=sa.pool.NullPool)

    def __call__(self, clocks: dict[int, tuple[str, subprocess.Popen]]) -> set[int]:
        if self.engine is not None:
            with self.engine.connect() as connection:
                names = set(
                    connection.scalars(
                        sa.text(
                            "SELECT application_name FROM pg_stat_activity"
                            " WHERE datname = current_database() AND xact_start IS NOT NULL"
                            " AND application_name LIKE 'faultclock-%'"
                        )
                    )
                )
            return {slot for slot, (name, _process) in clocks.items() if name in names}
        shm = Path(f"{self.url.database}-shm")
        try:
            inode = shm.stat().st_ino
        except FileNotFoundError:
            return set()
        holders = set()
        for line in Path("/proc/locks").read_text().splitlines():
            fields = line.split()
            if "->" in fields:  # a process waiting for the lock, not holding it
                continue
            if len(fields) >= 8 and fields[5].endswith(f":{inode}") and fields[6] == "120":
                holders.add(int(fields[4]))
        return {slot for slot, (_name, process) in clocks.items() if process.pid in holders}

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()


def test_clocks_killed_at_random_and_restarted_take_each_due_step_exactly_once(
    app, staffed, database_url, tmp_path
):
    chance = random.Random(os.environ.get("FAULTS_SEED", "clock-faults"))
    ages = []
    while len(ages) < PAST_TICKETS + DURING_TICKETS:
        age = timedelta(seconds=chance.uniform(46 * 60, 180 * 60))
        if clear_of_steps(age, timedelta(minutes=1)):
            ages.append(age)
    file_critical_tickets(app, ages)
    # A few warnings fall due while the clocks are being killed, not before.
    redate(
        app,
        DURING_TICKETS,
        first_warning_at=utcnow() + timedelta(seconds=2),
        spacing=timedelta(seconds=6 / DURING_TICKETS),
    )
    with app.app_context():
        backlog = sum(
            len(due_steps(ticket, utcnow())) for ticket in db.session.scalars(sa.select(Ticket))
        )
    in_transaction = InTransaction(database_url)
    clocks: dict[int, tuple[str, subprocess.Popen]] = {}
    starts = kills = 0
    killed_in_transaction = 0
    log = (tmp_path / "clocks.log").open("w")

    def start(slot: int) -> None:
        nonlocal starts
        starts += 1
        name = f"faultclock-{slot}-{starts}"
        process = subprocess.Popen(
            [FLASK, "scheduler", "run"],
            cwd=PROJECT_ROOT,
            env=clock_environment(app, database_url, tmp_path, name),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        clocks[slot] = (name, process)

    def kill(slot: int) -> None:
        nonlocal kills, killed_in_transaction
        holding = slot in in_transaction(clocks)
        _name, process = clocks.pop(slot)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=PATIENCE_SECONDS)
        kills += 1
        killed_in_transaction += holding

    try:
        for slot in range(CLOCKS):
            start(slot)
        ends = time.monotonic() + CHAOS_SECONDS
        limit = time.monotonic() + CHAOS_LIMIT_SECONDS
        calm_due = time.monotonic() + CALM_AFTER_SECONDS

        def chaos_goes_on() -> bool:
            now = time.monotonic()
            if now >= limit:
                return False
            return now < ends or kills < MIN_KILLS or killed_in_transaction < 1

        while chaos_goes_on():
            if time.monotonic() > calm_due and escalation_count(app) < backlog // 2:
                # Killed too often for a sweep of the backlog to finish: leave the clocks be for
                # a while, or the final tick would do all the work and the chaos prove little.
                # (On a busy machine a clock can take seconds just to start: wait for the
                # progress itself, within the hard limit.)
                calm_until = limit
                while time.monotonic() < calm_until and escalation_count(app) < backlog // 2:
                    time.sleep(0.05)
                calm_due = time.monotonic() + CALM_AFTER_SECONDS
                continue
            how = chance.random()
            if how < 0.35:
                # Wait (briefly) for a clock inside a transaction, and kill it there.
                give_up = time.monotonic() + 2
                while time.monotonic() < give_up and not (holders := in_transaction(clocks)):
                    time.sleep(0.01)
                victims = sorted(holders) or [chance.choice(sorted(clocks))]
                victims = victims[:1]
            elif how < 0.9:
                time.sleep(chance.uniform(0.3, 1.0))
                victims = [chance.choice(sorted(clocks))]
            else:
                time.sleep(chance.uniform(0.3, 1.0))
                victims = sorted(clocks)  # all of them at once
            for slot in victims:
                kill(slot)
            time.sleep(chance.uniform(0, 0.3))
            for slot in victims:
                start(slot)
        for slot in sorted(clocks):
            kill(slot)
        taken_under_chaos = escalation_count(app)
        checked_at = utcnow()
        flask_tick(app, database_url, tmp_path)
    finally:
        for _name, process in clocks.values():
            process.kill()
            process.wait()
        log.close()
        in_transaction.close()

    printed = (tmp_path / "clocks.log").read_text()
    print(
        f"{starts} starts, {kills} kills ({killed_in_transaction} inside a transaction); "
        f"{taken_under_chaos} of {escalation_count(app)} steps taken before the final tick"
    )
    assert exactly_once_problems(app, checked_at) == [], printed[-3000:]
    assert kills >= MIN_KILLS
    assert killed_in_transaction >= 1, "no clock was killed inside a transaction"
    assert taken_under_chaos >= backlog // 2, "the clocks hardly got a sweep done between kills"


# -- catching up after the clock was down ---------------------------------------------------------


def test_a_restarted_clock_takes_every_overdue_step_once_in_one_sweep(
    app, staffed, database_url, tmp_path
):
    # Submitted 1 h 40 min to about 36 h ago: from three steps (the first response's) to five.
    assert len(OVERDUE_AGES) > sla.SWEEP_BATCH
    file_critical_tickets(app, OVERDUE_AGES)
    checked_at = utcnow()

    flask_tick(app, database_url, tmp_path)

    assert exactly_once_problems(app, checked_at) == []
    taken = escalation_count(app)
    assert taken >= 3 * len(OVERDUE_AGES)

    flask_tick(app, database_url, tmp_path)

    assert escalation_count(app) == taken
    assert exactly_once_problems(app, checked_at) == []
