"""The export-ready text of a report: its output, input and expected output with personal data
replaced by typed placeholders (portal.services.redaction), kept in columns of their own.

They are made when the report is stored, blanked when it is erased, and made again for every
report whose text was redacted under older rules (``recompute_stale``: `flask redaction
recompute`, and the clock's job), so that an export only reads.
"""

import sqlalchemy as sa

from portal.extensions import db
from portal.models import Ticket
from portal.models.tickets import REDACTION_KINDS
from portal.services import redaction
from portal.services.writing import begin_write

BATCH = 500


def prepare(ticket: Ticket) -> None:
    """Redact the report's text into its export-ready columns, under the current rules."""
    for column, value in redacted_columns(ticket).items():
        setattr(ticket, column, value)


def redacted_columns(ticket) -> dict:
    """The export-ready columns of ``ticket`` (a Ticket or a row with the same attributes)."""
    own = {"reporter_name": ticket.reporter_name, "reporter_email": ticket.contact_email}
    values: dict = {}
    counts: dict[str, int] = {}
    for column, text in (
        ("export_output", ticket.output_text),
        ("export_input", ticket.input_text),
        ("export_expected_output", ticket.expected_output),
    ):
        if text is None:
            values[column] = None
            continue
        result = redaction.redact(text, **own)
        values[column] = result.text
        for kind, found in result.counts.items():
            counts[kind] = counts.get(kind, 0) + found
    for kind in REDACTION_KINDS:
        values[f"redacted_{kind}"] = counts.get(kind, 0)
    values["redaction_version"] = redaction.RULES_VERSION
    return values


def stale() -> sa.ColumnElement[bool]:
    """Reports whose export-ready text is missing or made under older rules (a range of
    ix_tickets_redaction_version)."""
    return sa.or_(
        Ticket.redaction_version.is_(None), Ticket.redaction_version < redaction.RULES_VERSION
    )


def recompute_stale(*, limit: int | None = None) -> int:
    """Redact again every stale report (at most ``limit``), a batch at a time; returns how many.
    Adds and flushes; the caller commits.

    Not a change of the report: ``updated_at`` and the row version stay as they were (a new
    rules version must not make every open form out of date), so an incremental export does
    not take these reports again; after a rules change, export in full (the manifest names the
    rules version of its records)."""
    begin_write()
    source = (
        Ticket.id,
        Ticket.reporter_name,
        Ticket.contact_email,
        Ticket.output_text,
        Ticket.input_text,
        Ticket.expected_output,
    )
    done = 0
    while limit is None or done < limit:
        size = BATCH if limit is None else min(BATCH, limit - done)
        rows = db.session.execute(
            sa.select(*source).where(stale()).order_by(Ticket.id).limit(size)
        ).all()
        for row in rows:
            table = Ticket.__table__
            db.session.execute(
                sa.update(table)
                .where(table.c.id == row.id)
                # Named, or the column's onupdate would move it to now.
                .values(updated_at=table.c.updated_at, **redacted_columns(row))
            )
        done += len(rows)
        if len(rows) < size:
            break
    return done
