"""The audit log: append entries to the hash chain, verify it, and sign checkpoints.

Keys. Nothing here uses ``SECRET_KEY`` directly: each purpose has its own key, derived as
HMAC-SHA256(SECRET_KEY, purpose), so a value made for one purpose (a pseudonym, a chain hash, a
checkpoint signature) can never stand in for another. Rotating ``SECRET_KEY`` therefore changes
the pseudonyms and makes the existing chain and its checkpoints fail to verify: keep the old key to
verify the old log.

The chain. ``entry_hash = HMAC-SHA256(chain key, prev_hash || canonical JSON of the entry)`` where
the entry is its sequence number, time, actor, action, object and payload text; the first entry's
``prev_hash`` is ``GENESIS_HASH``. Anyone who can write to the database but does not hold the key
cannot forge, edit, remove or reorder entries without ``verify`` naming the first one affected;
cutting off the tail (and rewinding the head) is caught by verifying against a checkpoint kept
elsewhere.

Concurrency. ``append`` flushes the caller's pending changes first, then updates the head row:
that write is the lock (a row lock on PostgreSQL, the database write lock on SQLite), taken last
and held only until the caller commits, so concurrent appends take turns and the chain never
forks. The primary key on ``seq`` is the backstop: two entries can never share a number.
"""

import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

import sqlalchemy as sa

from portal.extensions import db
from portal.models import Actor, AuditEntry, AuditHead
from portal.models.audit import GENESIS_HASH, HEAD_ID

VERIFY_BATCH_SIZE = 1000
PSEUDONYM_HEX_CHARS = 32  # 128 bits: no two people share one in practice.

_CHAIN_PURPOSE = "redress.audit.chain"
_CHECKPOINT_PURPOSE = "redress.audit.checkpoint"
_PSEUDONYM_PURPOSE = "redress.audit.pseudonym"

# Personal data goes in as pseudonyms; an e-mail address in clear is the likeliest slip.
# The pattern starts one character before "@" so that it stays linear on long text.
_EMAIL_ADDRESS = re.compile(r"[^@\s\"]@[^@\s\"]+\.[^@\s\"]")
_CHECKPOINT = re.compile(r"(?P<seq>\d+):(?P<hash>[0-9a-f]{64}):(?P<signature>[0-9a-f]{64})")


class AuditChainError(RuntimeError):
    """The head row is missing or moved under us: the append is refused (the caller rolls back)."""


class InvalidCheckpoint(ValueError):
    """A checkpoint that is malformed, or was not signed with this installation's key."""


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int  # how many entries were checked and found good
    first_bad_seq: int | None = None
    reason: str | None = None


def derive_key(secret_key: str | bytes, purpose: str) -> bytes:
    secret = secret_key.encode() if isinstance(secret_key, str) else secret_key
    return hmac.new(secret, purpose.encode(), hashlib.sha256).digest()


def pseudonym(kind: str, value: str | int, secret_key: str | bytes) -> str:
    """A stable pseudonymous id such as ``email:3f9c…``: the same person always gets the same id.

    ``value`` is compared without surrounding space and without case (``Ana@Example.org`` and
    ``ana@example.org`` are one person); ``kind`` separates namespaces (an e-mail address and an
    IP address that happen to be equal map to different ids). The value cannot be read back.
    """
    normalised = str(value).strip().casefold()
    digest = hmac.new(
        derive_key(secret_key, _PSEUDONYM_PURPOSE),
        f"{kind}\x00{normalised}".encode(),
        hashlib.sha256,
    ).hexdigest()
    return f"{kind}:{digest[:PSEUDONYM_HEX_CHARS]}"


def canonical_json(obj) -> str:
    """One text for one value: sorted keys, no whitespace, UTF-8 characters kept, times in UTC.

    Aware datetimes become ISO 8601 in UTC and dates ISO 8601; naive datetimes, NaN and anything
    else JSON cannot represent raise ``TypeError`` or ``ValueError``.
    """
    return json.dumps(
        obj,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_json_default,
    )


def _json_default(value):
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise TypeError("naive datetime in an audit entry")
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} cannot go into an audit entry")


def append(
    *,
    actor_type: Actor | str,
    actor_id: str | None,
    action: str,
    object_type: str,
    object_id: str | None,
    payload: dict,
    now: datetime,
    secret_key: str | bytes,
) -> AuditEntry:
    """Add one entry at the end of the chain and flush; the caller commits (or rolls back).

    Call it last in the transaction: from here until the commit, other appends wait. Raises
    ``ValueError`` for an e-mail address in clear, ``TypeError`` for a payload that is not a
    JSON object, and ``AuditChainError`` if the head row is missing.
    """
    actor_type = Actor(actor_type)
    if not isinstance(payload, dict):
        raise TypeError("an audit payload is a JSON object (a dict)")
    payload_text = canonical_json(payload)
    for text in (actor_id, object_id, payload_text):
        if text and _EMAIL_ADDRESS.search(text):
            raise ValueError("an audit entry must not hold an e-mail address: use pseudonym()")
    key = derive_key(secret_key, _CHAIN_PURPOSE)

    # Everything else this transaction writes goes to the database before the lock is taken.
    db.session.flush()
    head_table = AuditHead.__table__
    head = db.session.execute(
        sa.update(head_table)
        .where(head_table.c.id == HEAD_ID)
        .values(seq=head_table.c.seq + 1)
        .returning(head_table.c.seq, head_table.c.entry_hash)
    ).one_or_none()
    if head is None:
        raise AuditChainError("the audit log's head row is missing (run `flask db upgrade`)")
    seq, prev_hash = head
    fields = {
        "seq": seq,
        "created_at": now,
        "actor_type": actor_type.value,
        "actor_id": actor_id,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "payload": payload_text,
    }
    entry_hash = _chain_hash(key, prev_hash, fields)
    moved = db.session.execute(
        sa.update(head_table)
        .where(head_table.c.id == HEAD_ID, head_table.c.seq == seq)
        .values(entry_hash=entry_hash)
    ).rowcount
    if moved != 1:
        raise AuditChainError(f"the audit log's head moved while entry {seq} was appended")
    entry = AuditEntry(
        seq=seq,
        created_at=now,
        actor_type=actor_type,
        actor_id=actor_id,
        action=action,
        object_type=object_type,
        object_id=object_id,
        payload=payload_text,
        prev_hash=prev_hash,
        entry_hash=entry_hash,
    )
    db.session.add(entry)
    db.session.flush()
    return entry


def append_by_staff(
    action: str,
    *,
    staff_id: int,
    object_type: str,
    object_id: str | int,
    now: datetime,
    secret_key: str | bytes,
    **payload,
) -> AuditEntry:
    """Append something a member of staff did in the workspace (edited a team, a rule, an
    account; downloaded evidence). The payload holds ids and values, never names or
    addresses. The caller commits."""
    return append(
        actor_type=Actor.STAFF,
        actor_id=f"staff:{staff_id}",
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        payload=payload,
        now=now,
        secret_key=secret_key,
    )


def _chain_hash(key: bytes, prev_hash: str, fields: dict) -> str:
    message = prev_hash + canonical_json(fields)
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def verify(*, secret_key: str | bytes, checkpoint: str | None = None) -> VerifyResult:
    """Walk the whole chain in order, in batches (memory does not grow with the log).

    Checks that sequence numbers run from 1 without gaps, that each entry links to the one
    before, that each hash recomputes, that the head row agrees with the last entry and, given a
    ``checkpoint`` from :func:`checkpoint`, that the entry it names still has its hash (so a cut-off
    tail is caught). Returns the first problem found. Raises ``InvalidCheckpoint`` for a
    checkpoint that is malformed or not signed with this key. Reads only.
    """
    key = derive_key(secret_key, _CHAIN_PURPOSE)
    pinned = _read_checkpoint(checkpoint, secret_key) if checkpoint is not None else None
    # Appends may go on during the walk. The head is read before it (every entry up to there
    # was committed with it, so the walk must reach it) and after it (nothing may lie beyond).
    head_before = _head()
    if head_before is None:
        return _broken(1, "the head row is missing")
    expected_seq, expected_prev = 1, GENESIS_HASH
    for row in _entries_in_order():
        if row.seq != expected_seq:
            return _broken(expected_seq, f"entry {expected_seq} is missing")
        if row.prev_hash != expected_prev:
            return _broken(row.seq, "it does not link to the entry before it")
        fields = {
            "seq": row.seq,
            "created_at": row.created_at,
            "actor_type": row.actor_type.value,
            "actor_id": row.actor_id,
            "action": row.action,
            "object_type": row.object_type,
            "object_id": row.object_id,
            "payload": row.payload,
        }
        if not hmac.compare_digest(_chain_hash(key, row.prev_hash, fields), row.entry_hash):
            return _broken(row.seq, "its content does not match its hash")
        if pinned is not None and row.seq == pinned[0] and row.entry_hash != pinned[1]:
            return _broken(row.seq, "its hash differs from the checkpoint's")
        expected_seq, expected_prev = row.seq + 1, row.entry_hash
    last_seq = expected_seq - 1

    if pinned is not None and pinned[0] > last_seq:
        return _broken(
            last_seq + 1, f"the log ends at entry {last_seq} but the checkpoint names {pinned[0]}"
        )
    if head_before.seq > last_seq:
        return _broken(
            last_seq + 1, f"the log ends at entry {last_seq} but its head is {head_before.seq}"
        )
    head_after = _head()
    if head_after is None:
        return _broken(last_seq + 1, "the head row is missing")
    if head_after.seq < last_seq:
        return _broken(head_after.seq + 1, f"it lies beyond the head ({head_after.seq})")
    if head_after.seq == last_seq and head_after.entry_hash != expected_prev:
        return _broken(last_seq, "the head's hash differs from the last entry's")
    return VerifyResult(ok=True, entries=last_seq)


def _head() -> sa.Row | None:
    return db.session.execute(
        sa.select(AuditHead.seq, AuditHead.entry_hash).where(AuditHead.id == HEAD_ID)
    ).one_or_none()


def _broken(seq: int, reason: str) -> VerifyResult:
    return VerifyResult(ok=False, entries=seq - 1, first_bad_seq=seq, reason=reason)


def _entries_in_order() -> Iterator[sa.Row]:
    """Every entry by ``seq``, fetched a batch at a time by key (no OFFSET, no open cursor)."""
    after = 0
    while True:
        rows = db.session.execute(
            sa.select(AuditEntry.__table__)
            .where(AuditEntry.seq > after)
            .order_by(AuditEntry.seq)
            .limit(VERIFY_BATCH_SIZE)
        ).all()
        yield from rows
        if len(rows) < VERIFY_BATCH_SIZE:
            return
        after = rows[-1].seq


def checkpoint(*, secret_key: str | bytes) -> str:
    """``seq:hash:signature`` for the last entry now in the log (``0:<zeros>:…`` when empty).

    Keep it outside the database; :func:`verify` given it back detects a cut-off tail. It vouches
    only for what was verified before it was taken: ``flask audit checkpoint`` verifies first.
    """
    last = db.session.execute(
        sa.select(AuditEntry.seq, AuditEntry.entry_hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).one_or_none()
    seq, entry_hash = last if last is not None else (0, GENESIS_HASH)
    return f"{seq}:{entry_hash}:{_checkpoint_signature(seq, entry_hash, secret_key)}"


def _checkpoint_signature(seq: int, entry_hash: str, secret_key: str | bytes) -> str:
    key = derive_key(secret_key, _CHECKPOINT_PURPOSE)
    return hmac.new(key, f"{seq}:{entry_hash}".encode(), hashlib.sha256).hexdigest()


def _read_checkpoint(text: str, secret_key: str | bytes) -> tuple[int, str]:
    match = _CHECKPOINT.fullmatch(text.strip())
    if match is None:
        raise InvalidCheckpoint("a checkpoint reads sequence:hash:signature")
    seq, entry_hash = int(match["seq"]), match["hash"]
    expected = _checkpoint_signature(seq, entry_hash, secret_key)
    if not hmac.compare_digest(expected, match["signature"]):
        raise InvalidCheckpoint("the checkpoint's signature does not match this installation's key")
    return seq, entry_hash
