"""The audit log: an append-only, hash-chained record of every ticket event and staff action.

Entries are only ever added, by :func:`portal.services.audit.append`; database triggers (created
by the migration ``0002_audit_log``) refuse UPDATE and DELETE on ``audit_entries``, and TRUNCATE on
PostgreSQL. ``audit_head`` is not part of the log: its single row holds the chain's end and is the
lock that serializes appends.
"""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models.enums import Actor
from portal.models.types import UTCDateTime, enum_column_type

# The "previous hash" of the first entry, and the head row's hash while the log is empty.
GENESIS_HASH = "0" * 64
# audit_head has exactly one row, with this id.
HEAD_ID = 1


class AuditEntry(db.Model):
    """One entry. Personal data appears only as pseudonymous ids (``services.audit.pseudonym``).

    ``entry_hash`` is HMAC-SHA256 over ``prev_hash`` and the canonical JSON of the other fields;
    ``seq`` counts from 1 without gaps, assigned under the head row's lock (never autoincrement,
    whose values a rollback would skip).
    """

    __tablename__ = "audit_entries"

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor_type: Mapped[Actor] = mapped_column(
        enum_column_type(Actor, "ck_audit_entries_actor_type")
    )
    actor_id: Mapped[str | None] = mapped_column(sa.String(64))
    action: Mapped[str] = mapped_column(sa.String(64))
    object_type: Mapped[str] = mapped_column(sa.String(64))
    object_id: Mapped[str | None] = mapped_column(sa.String(64))
    # Canonical JSON, exactly the text the hash covers.
    payload: Mapped[str] = mapped_column(sa.Text)
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    entry_hash: Mapped[str] = mapped_column(sa.String(64))

    # The auditor's view filters by actor and by object and pages in sequence order.
    __table_args__ = (
        sa.Index("ix_audit_entries_actor", "actor_id", "seq"),
        sa.Index("ix_audit_entries_object", "object_type", "object_id", "seq"),
    )


class AuditHead(db.Model):
    """The end of the chain (last ``seq`` and its hash), in a single row with id ``HEAD_ID``.

    Every append updates this row first, which is what makes appends take turns: a row lock on
    PostgreSQL, the database write lock on SQLite.
    """

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int]
    entry_hash: Mapped[str] = mapped_column(sa.String(64))
