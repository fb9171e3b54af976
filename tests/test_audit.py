"""The audit log: a gap-free hash chain that the database will not let anyone rewrite, and that
``flask audit verify`` checks, naming the first entry that was tampered with."""

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import Actor, AuditEntry, AuditHead
from portal.models.audit import GENESIS_HASH
from portal.services.audit import (
    InvalidCheckpoint,
    append,
    canonical_json,
    checkpoint,
    pseudonym,
    verify,
)
from tests.conftest import audit_log_unprotected

START = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
CHECKPOINT = re.compile(r"(\d+):([0-9a-f]{64}):([0-9a-f]{64})")


def add_entries(app, count: int, **overrides) -> list[tuple[int, str]]:
    """Append ``count`` entries, one transaction each; their (seq, entry_hash)."""
    added = []
    for number in range(count):
        with app.app_context():
            values = {
                "actor_type": Actor.STAFF,
                "actor_id": "staff:7",
                "action": "ticket.status_changed",
                "object_type": "ticket",
                "object_id": f"RP-TEST-{number:04d}",
                "payload": {"from": "new", "to": "triaged", "n": number},
                "now": START + timedelta(minutes=number),
                "secret_key": app.config["SECRET_KEY"],
                **overrides,
            }
            entry = append(**values)
            db.session.commit()
            added.append((entry.seq, entry.entry_hash))
    return added


def verified(app, checkpoint_text: str | None = None):
    with app.app_context():
        return verify(secret_key=app.config["SECRET_KEY"], checkpoint=checkpoint_text)


def tamper(app, *statements: str, **params) -> None:
    """Run SQL against the audit log with its append-only triggers lifted, as an intruder would."""
    with app.app_context(), audit_log_unprotected() as connection:
        for statement in statements:
            connection.execute(sa.text(statement), params)


def stored_entries(app) -> list[AuditEntry]:
    with app.app_context():
        entries = db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.seq)).all()
        db.session.expunge_all()
        return entries


def test_entries_chain_to_the_one_before_with_gap_free_numbers(app):
    added = add_entries(app, 5)

    entries = stored_entries(app)
    assert [entry.seq for entry in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == GENESIS_HASH
    for before, after in pairwise(entries):
        assert after.prev_hash == before.entry_hash
    assert len({entry.entry_hash for entry in entries}) == 5
    assert entries[2].payload == '{"from":"new","n":2,"to":"triaged"}'
    assert entries[2].created_at == START + timedelta(minutes=2)
    with app.app_context():
        head = db.session.get(AuditHead, 1)
        assert (head.seq, head.entry_hash) == added[-1]
    assert verified(app).ok
    assert verified(app).entries == 5


def test_a_rolled_back_append_leaves_no_gap(app):
    add_entries(app, 1)
    with app.app_context():
        append(
            actor_type=Actor.SYSTEM,
            actor_id=None,
            action="ticket.routed",
            object_type="ticket",
            object_id="RP-GONE-0000",
            payload={},
            now=START,
            secret_key=app.config["SECRET_KEY"],
        )
        db.session.rollback()
    add_entries(app, 1)

    assert [entry.seq for entry in stored_entries(app)] == [1, 2]
    assert verified(app).ok


def test_the_same_email_always_gets_the_same_pseudonym_and_never_appears_in_clear(app):
    key = app.config["SECRET_KEY"]
    ana = pseudonym("email", "Ana.Lopez@Example.org", key)

    assert pseudonym("email", " ana.lopez@example.org ", key) == ana
    assert pseudonym("email", "bob@example.org", key) != ana
    assert pseudonym("ip", "Ana.Lopez@Example.org", key) != ana
    assert pseudonym("email", "Ana.Lopez@Example.org", "another-secret-key-entirely") != ana
    assert re.fullmatch(r"email:[0-9a-f]{32}", ana)

    add_entries(
        app, 2, actor_type=Actor.REPORTER, actor_id=ana, payload={"contact": ana, "lang": "fr"}
    )
    with app.app_context():
        rows = db.session.execute(sa.select(AuditEntry.__table__)).all()
    stored = repr(rows).casefold()
    assert "ana.lopez" not in stored
    assert "example.org" not in stored
    assert {row.actor_id for row in rows} == {ana}


def test_an_email_address_in_clear_is_refused(app):
    with app.app_context(), pytest.raises(ValueError, match="e-mail address"):
        append(
            actor_type=Actor.STAFF,
            actor_id="staff:7",
            action="ticket.replied",
            object_type="ticket",
            object_id="RP-TEST-0001",
            payload={"to": "ana.lopez@example.org"},
            now=START,
            secret_key=app.config["SECRET_KEY"],
        )


def test_canonical_json_has_one_text_for_one_value():
    paris_noon = datetime(2026, 1, 1, 12, tzinfo=ZoneInfo("Europe/Paris"))

    assert canonical_json({"b": [1, 2], "a": "é", "when": paris_noon, "on": paris_noon.date()}) == (
        '{"a":"é","b":[1,2],"on":"2026-01-01","when":"2026-01-01T11:00:00+00:00"}'
    )
    with pytest.raises(TypeError):
        canonical_json({"when": datetime(2026, 1, 1, 12)})  # noqa: DTZ001 - naive on purpose
    with pytest.raises(ValueError, match="JSON compliant"):
        canonical_json({"x": float("nan")})


def test_the_database_refuses_to_change_or_remove_entries(app, is_postgres):
    add_entries(app, 2)
    statements = [
        "UPDATE audit_entries SET payload = '{}' WHERE seq = 1",
        "DELETE FROM audit_entries WHERE seq = 2",
    ]
    if is_postgres:
        statements.append("TRUNCATE audit_entries")

    for statement in statements:
        with app.app_context():
            with pytest.raises(sa.exc.DBAPIError, match="append-only"):
                db.session.execute(sa.text(statement))
            db.session.rollback()

    assert [entry.seq for entry in stored_entries(app)] == [1, 2]
    assert verified(app).ok


def test_the_triggers_are_back_after_a_tampering_transaction(app):
    add_entries(app, 1)
    tamper(app, "UPDATE audit_entries SET action = 'edited' WHERE seq = 1")

    with app.app_context():
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            db.session.execute(sa.text("DELETE FROM audit_entries"))
        db.session.rollback()


def test_verify_reads_the_log_a_batch_at_a_time(app, monkeypatch):
    monkeypatch.setattr("portal.services.audit.VERIFY_BATCH_SIZE", 2)
    add_entries(app, 4)
    exact_batches = verified(app)
    add_entries(app, 1)
    tamper(app, "UPDATE audit_entries SET action = 'ticket.deleted' WHERE seq = 5")

    assert (exact_batches.ok, exact_batches.entries) == (True, 4)
    assert verified(app).first_bad_seq == 5


def test_verify_names_an_edited_payload(app):
    add_entries(app, 5)
    tamper(app, "UPDATE audit_entries SET payload = :payload WHERE seq = 3", payload='{"n":99}')

    result = verified(app)

    assert (result.ok, result.first_bad_seq) == (False, 3)
    assert result.reason == "its content does not match its hash"
    assert result.entries == 2


def test_verify_names_a_deleted_entry(app):
    add_entries(app, 5)
    tamper(app, "DELETE FROM audit_entries WHERE seq = 3")

    result = verified(app)

    assert (result.ok, result.first_bad_seq) == (False, 3)
    assert result.reason == "entry 3 is missing"


def test_verify_names_a_forged_entry_inserted_in_the_middle(app):
    added = add_entries(app, 5)
    # Make room at 3 (in two steps, so that no two rows ever share a number), then forge an entry
    # that links correctly to entry 2 but whose hash was made without the key.
    tamper(
        app,
        "UPDATE audit_entries SET seq = seq + 1000 WHERE seq >= 3",
        "UPDATE audit_entries SET seq = seq - 999 WHERE seq >= 1000",
        "INSERT INTO audit_entries (seq, created_at, actor_type, actor_id, action, object_type,"
        " object_id, payload, prev_hash, entry_hash) VALUES (3, :at, 'staff', 'staff:7',"
        " 'ticket.closed', 'ticket', 'RP-TEST-0002', '{}', :prev, :forged)",
        "UPDATE audit_head SET seq = 6",
        at=START,
        prev=added[1][1],
        forged="f" * 64,
    )

    result = verified(app)

    assert (result.ok, result.first_bad_seq) == (False, 3)
    assert result.reason == "its content does not match its hash"


def test_verify_names_reordered_entries(app):
    add_entries(app, 5)
    # Entries 2 and 3 swap places, each keeping its own content, hashes and links.
    tamper(
        app,
        "UPDATE audit_entries SET seq = 1002 WHERE seq = 2",
        "UPDATE audit_entries SET seq = 2 WHERE seq = 3",
        "UPDATE audit_entries SET seq = 3 WHERE seq = 1002",
    )

    result = verified(app)

    assert (result.ok, result.first_bad_seq) == (False, 2)
    assert result.reason == "it does not link to the entry before it"


def test_a_cut_off_tail_is_caught_by_the_head_row(app):
    add_entries(app, 5)
    tamper(app, "DELETE FROM audit_entries WHERE seq >= 4")

    result = verified(app)

    assert (result.ok, result.first_bad_seq) == (False, 4)
    assert result.reason == "the log ends at entry 3 but its head is 5"


def test_entries_beyond_a_rewound_head_are_caught(app):
    added = add_entries(app, 5)
    tamper(app, "UPDATE audit_head SET seq = 3, entry_hash = :hash", hash=added[2][1])

    result = verified(app)

    assert (result.ok, result.first_bad_seq) == (False, 4)
    assert result.reason == "it lies beyond the head (3)"


def test_a_cut_off_tail_with_a_rewound_head_is_caught_only_with_a_checkpoint(app):
    added = add_entries(app, 5)
    with app.app_context():
        kept = checkpoint(secret_key=app.config["SECRET_KEY"])
    assert kept.startswith(f"5:{added[-1][1]}:")
    tamper(
        app,
        "DELETE FROM audit_entries WHERE seq >= 4",
        "UPDATE audit_head SET seq = 3, entry_hash = :hash",
        hash=added[2][1],
    )

    assert verified(app).ok
    result = verified(app, kept)
    assert (result.ok, result.first_bad_seq) == (False, 4)
    assert result.reason == "the log ends at entry 3 but the checkpoint names 5"


def test_a_checkpoint_catches_a_chain_rebuilt_with_the_key(app):
    # Someone holding the key rewrites entry 2 and re-chains everything after it consistently:
    # only a checkpoint taken before the rewrite still knows entry 5's original hash.
    added = add_entries(app, 5)
    with app.app_context():
        kept = checkpoint(secret_key=app.config["SECRET_KEY"])
    tamper(
        app,
        "DELETE FROM audit_entries WHERE seq >= 2",
        "UPDATE audit_head SET seq = 1, entry_hash = :hash",
        hash=added[0][1],
    )
    add_entries(app, 4, payload={"rewritten": True})

    assert verified(app).ok
    result = verified(app, kept)
    assert (result.ok, result.first_bad_seq) == (False, 5)
    assert result.reason == "its hash differs from the checkpoint's"


def test_a_checkpoint_signed_with_another_key_or_altered_is_refused(app):
    add_entries(app, 2)
    with app.app_context():
        kept = checkpoint(secret_key=app.config["SECRET_KEY"])
        foreign = checkpoint(secret_key="some-other-installations-secret-key")
    _seq, entry_hash, signature = kept.split(":")

    for text in (foreign, f"1:{entry_hash}:{signature}", "not a checkpoint"):
        with pytest.raises(InvalidCheckpoint):
            verified(app, text)
    assert verified(app, kept).ok


def test_flask_audit_verify_reports_ok_or_the_first_bad_sequence_number(app):
    runner = app.test_cli_runner()

    empty = runner.invoke(args=["audit", "verify"])
    add_entries(app, 3)
    good = runner.invoke(args=["audit", "verify"])
    tamper(app, "UPDATE audit_entries SET object_id = 'RP-FAKE-0000' WHERE seq = 2")
    broken = runner.invoke(args=["audit", "verify"])

    assert (empty.exit_code, empty.stdout) == (0, "audit log OK: 0 entries\n")
    assert (good.exit_code, good.stdout) == (0, "audit log OK: 3 entries\n")
    assert broken.exit_code == 1
    assert broken.output == (
        "audit log BROKEN at sequence number 2: its content does not match its hash\n"
    )


def test_flask_audit_checkpoint_prints_what_verify_accepts_back(app):
    runner = app.test_cli_runner()
    added = add_entries(app, 4)

    printed = runner.invoke(args=["audit", "checkpoint"])
    kept = printed.output.strip()
    still_good = runner.invoke(args=["audit", "verify", "--checkpoint", kept])
    tamper(
        app,
        "DELETE FROM audit_entries WHERE seq = 4",
        "UPDATE audit_head SET seq = 3, entry_hash = :hash",
        hash=added[2][1],
    )
    without = runner.invoke(args=["audit", "verify"])
    with_checkpoint = runner.invoke(args=["audit", "verify", "--checkpoint", kept])
    garbled = runner.invoke(args=["audit", "verify", "--checkpoint", "4:abc:def"])

    assert printed.exit_code == 0
    assert CHECKPOINT.fullmatch(kept).group(1) == "4"
    assert (still_good.exit_code, still_good.output) == (0, "audit log OK: 4 entries\n")
    assert without.exit_code == 0
    assert with_checkpoint.exit_code == 1
    assert "sequence number 4: the log ends at entry 3" in with_checkpoint.output
    assert garbled.exit_code == 2
    assert "sequence:hash:signature" in garbled.output


def test_flask_audit_checkpoint_refuses_to_vouch_for_a_broken_log(app):
    add_entries(app, 3)
    tamper(app, "DELETE FROM audit_entries WHERE seq = 1")

    printed = app.test_cli_runner().invoke(args=["audit", "checkpoint"])

    assert printed.exit_code == 1
    assert printed.output == "audit log BROKEN at sequence number 1: entry 1 is missing\n"


def test_concurrent_appends_never_fork_the_chain_or_leave_gaps(app):
    threads, each = 4, 15
    start = threading.Barrier(threads)

    def append_from_a_request_of_its_own(worker: int) -> list[int]:
        start.wait(timeout=10)
        numbers = []
        for number in range(each):
            with app.app_context():
                entry = append(
                    actor_type=Actor.SYSTEM,
                    actor_id=None,
                    action="ticket.routed",
                    object_type="ticket",
                    object_id=f"RP-W{worker}-{number:04d}",
                    payload={"worker": worker, "n": number},
                    now=START,
                    secret_key=app.config["SECRET_KEY"],
                )
                db.session.commit()
                numbers.append(entry.seq)
        return numbers

    with ThreadPoolExecutor(max_workers=threads) as pool:
        numbers = list(pool.map(append_from_a_request_of_its_own, range(threads)))

    total = threads * each
    assert sorted(seq for worker in numbers for seq in worker) == list(range(1, total + 1))
    entries = stored_entries(app)
    assert [entry.seq for entry in entries] == list(range(1, total + 1))
    assert len({entry.prev_hash for entry in entries}) == total  # no two share a parent
    assert verified(app).ok
    assert verified(app).entries == total


def test_verifying_while_entries_are_appended_finds_nothing_wrong(app):
    appending = threading.Event()

    def keep_appending():
        appending.set()
        add_entries(app, 40)

    with ThreadPoolExecutor(max_workers=1) as pool:
        done = pool.submit(keep_appending)
        appending.wait(timeout=10)
        results = []
        while not done.done():
            results.append(verified(app))
        done.result()

    assert all(result.ok for result in results), [r for r in results if not r.ok]
    assert verified(app).entries == 40


def test_verifying_without_a_checkpoint_says_what_it_cannot_detect(app):
    result = app.test_cli_runner().invoke(args=["audit", "verify"])

    assert result.exit_code == 0
    assert "cannot be detected" in result.stderr
