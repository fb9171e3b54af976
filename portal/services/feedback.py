"""The feedback record: one consented report as product teams receive it, and the stream of them.

Every export format, the API and the preview read the same stream (``records``), so that they
hold the same records field for field. The schema is versioned and documented as JSON Schema in
``docs/feedback-record.schema.json`` (the tests validate every record against it).

Only reports whose reporter agreed to model-improvement use, and never took it back, are
exported; never withdrawn, merged, spam or erased ones; never the contact details. The free
text comes from the export-ready columns, redacted when the text was stored
(portal.services.redaction), so that an export only reads. A record's id is a keyed pseudonym
of the report, stable across exports; its split (train, validation, test) follows from the id,
so a record never moves between splits from one export to the next.

The stream walks the reports in id order, a batch at a time (keyset pagination: memory does
not grow with the number of rows); ``after`` resumes after a record's report.
"""

import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from flask import current_app

from portal.extensions import db
from portal.models import (
    AIModel,
    Decision,
    ModelVersion,
    Status,
    Ticket,
)
from portal.models.enums import AI_OUTPUT_KINDS
from portal.models.tickets import REDACTION_KINDS

SCHEMA_VERSION = "1.0"
# Where product teams find the schema, and what each field means.
SCHEMA_PATH = "docs/feedback-record.schema.json"
# Shares of the record-id space: a record's split never changes.
SPLITS = (("train", 80), ("validation", 10), ("test", 10))
BATCH = 1000

# The reports a record may be made of.
ENDED_WITHOUT_A_CASE = (Status.WITHDRAWN, Status.MERGED)


@dataclass(frozen=True)
class FeedbackFilters:
    """What an analyst asks for; None everywhere: every consented report.

    ``version_from``/``version_to`` bound the versions of ``model`` by release date (both
    inclusive; either may be left open). ``created_from``/``created_to`` are days, in UTC.
    ``since`` makes an export incremental: the reports changed after a previous export's
    cursor (a record may come again, changed: downstream, replace it by its id).
    """

    model: str | None = None
    version_from: str | None = None
    version_to: str | None = None
    kind: str | None = None
    category: str | None = None
    severity: str | None = None
    outcome: str | None = None
    language: str | None = None
    created_from: date | None = None
    created_to: date | None = None
    since: datetime | None = None

    def to_json(self) -> dict:
        """The filters as JSON values (for the manifest and the export's row)."""
        values = {}
        for name, value in asdict(self).items():
            if isinstance(value, datetime | date):
                value = value.isoformat()
            values[name] = value
        return values

    @classmethod
    def from_json(cls, values: dict) -> "FeedbackFilters":
        known = {field.name for field in fields(cls)}
        parsed = {name: value for name, value in values.items() if name in known}
        for name in ("created_from", "created_to"):
            if parsed.get(name):
                parsed[name] = date.fromisoformat(parsed[name])
        if parsed.get("since"):
            parsed["since"] = datetime.fromisoformat(parsed["since"]).astimezone(UTC)
        return cls(**parsed)


class UnknownModel(ValueError):
    """The filters name a model, or a version of it, that the registry does not have."""


def record_id(ticket_id: int, secret_key: str | bytes) -> str:
    """The record's pseudonymous id: the same report always gets the same id, which tells
    nothing about the report (not even its reference) to whoever lacks the app's secret."""
    return _record_id(ticket_id, _record_key(secret_key))


def _record_key(secret_key: str | bytes) -> bytes:
    secret = secret_key.encode() if isinstance(secret_key, str) else secret_key
    return hmac.new(secret, b"feedback-record", hashlib.sha256).digest()


def _record_id(ticket_id: int, key: bytes) -> str:
    # Keyed BLAKE2b: a MAC as sound as HMAC-SHA256 and a third of its cost, for every record.
    return hashlib.blake2b(str(ticket_id).encode(), key=key, digest_size=16).hexdigest()


def split_of(record: str) -> str:
    """train, validation or test, from the record id alone."""
    bucket = int(record[:8], 16) % 100
    for name, share in SPLITS:
        if bucket < share:
            return name
        bucket -= share
    return SPLITS[-1][0]


def exportable() -> sa.ColumnElement[bool]:
    """The reports that may become records."""
    return sa.and_(
        Ticket.consent_training.is_(True),
        Ticket.kind.in_(AI_OUTPUT_KINDS),
        Ticket.training_consent_withdrawn_at.is_(None),
        Ticket.erased_at.is_(None),
        Ticket.is_spam.is_(False),
        Ticket.status.not_in(ENDED_WITHOUT_A_CASE),
        Ticket.redaction_version.is_not(None),
    )


def gone() -> sa.ColumnElement[bool]:
    """The reports that were once exportable and no longer are: downstream must delete their
    records (the tombstones)."""
    return sa.and_(
        Ticket.consent_training.is_(True) | Ticket.training_consent_withdrawn_at.is_not(None),
        sa.or_(
            Ticket.training_consent_withdrawn_at.is_not(None),
            Ticket.erased_at.is_not(None),
            Ticket.is_spam.is_(True),
            Ticket.status.in_(ENDED_WITHOUT_A_CASE),
        ),
    )


# The decision in force: the latest (the answer to an appeal comes after what it answers).
_CURRENT_DECISION_ID = (
    sa.select(sa.func.max(Decision.id))
    .where(Decision.ticket_id == Ticket.id)
    .correlate(Ticket)
    .scalar_subquery()
)


def _raw(column, type_=sa.String):
    """The column's value as the database driver gives it, without SQLAlchemy's conversion
    (enum members, aware datetimes, parsed JSON): a record is text again at once, and the
    conversion costs more than the query (bench/README.md, "Feedback exports")."""
    return sa.type_coerce(column, type_).label(column.key)


def _query(filters: FeedbackFilters) -> sa.Select:
    query = (
        sa.select(
            Ticket.id,
            _raw(Ticket.kind),
            AIModel.slug.label("model_slug"),
            ModelVersion.version.label("model_version"),
            _raw(Ticket.category),
            _raw(Ticket.reporter_severity),
            _raw(Ticket.severity),
            Ticket.locale,
            _raw(Ticket.created_at),
            Ticket.export_output,
            Ticket.export_input,
            Ticket.export_expected_output,
            _raw(Decision.decided_at),
            _raw(Decision.outcome),
            _raw(Decision.remedies, sa.Text),
            _raw(Decision.appeal_result),
            _raw(Decision.follow_up_answer),
            *(getattr(Ticket, f"redacted_{kind}") for kind in REDACTION_KINDS),
        )
        .select_from(Ticket)
        .outerjoin(AIModel, AIModel.id == Ticket.model_id)
        .outerjoin(ModelVersion, ModelVersion.id == Ticket.model_version_id)
        .outerjoin(Decision, Decision.id == _CURRENT_DECISION_ID)
        .where(exportable())
    )
    return query.where(*_conditions(filters))


def _conditions(filters: FeedbackFilters) -> list[sa.ColumnElement[bool]]:
    conditions = []
    if filters.model is not None:
        model_id = db.session.scalar(sa.select(AIModel.id).where(AIModel.slug == filters.model))
        if model_id is None:
            raise UnknownModel(filters.model)
        conditions.append(Ticket.model_id == model_id)
        if filters.version_from or filters.version_to:
            conditions.append(Ticket.model_version_id.in_(_version_ids(model_id, filters)))
    if filters.kind:
        conditions.append(Ticket.kind == filters.kind)
    if filters.category:
        conditions.append(Ticket.category == filters.category)
    if filters.severity:
        conditions.append(
            sa.func.coalesce(Ticket.severity, Ticket.reporter_severity) == filters.severity
        )
    if filters.outcome:
        conditions.append(Decision.outcome == filters.outcome)
    if filters.language:
        conditions.append(Ticket.locale == filters.language)
    if filters.created_from:
        conditions.append(Ticket.created_at >= _start_of(filters.created_from))
    if filters.created_to:
        conditions.append(Ticket.created_at < _start_of(filters.created_to + timedelta(days=1)))
    if filters.since:
        conditions.append(Ticket.updated_at > filters.since)
    return conditions


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _version_ids(model_id: int, filters: FeedbackFilters) -> list[int]:
    """The versions of the model from ``version_from`` to ``version_to``, in release order."""
    versions = db.session.execute(
        sa.select(ModelVersion.id, ModelVersion.version)
        .where(ModelVersion.model_id == model_id)
        .order_by(ModelVersion.released_on.is_(None), ModelVersion.released_on, ModelVersion.id)
    ).all()
    names = [version for _id, version in versions]
    for bound in (filters.version_from, filters.version_to):
        if bound is not None and bound not in names:
            raise UnknownModel(f"{filters.model} {bound}")
    first = names.index(filters.version_from) if filters.version_from else 0
    last = names.index(filters.version_to) if filters.version_to else len(names) - 1
    return [version_id for version_id, _version in versions[first : last + 1]]


def last_of_page_if_more_follow(
    filters: FeedbackFilters, *, after: int | None, limit: int
) -> int | None:
    """The report id ending a page of ``limit`` records after ``after`` when at least one more
    record follows it, else None (the last page). Reads ids only, through the records' own
    query, so that a page and its records cannot disagree."""
    ids = db.session.scalars(
        _query(filters)
        .with_only_columns(Ticket.id)
        .where(Ticket.id > (after or 0))
        .order_by(Ticket.id)
        .offset(limit - 1)
        .limit(2)
    ).all()
    return ids[0] if len(ids) == 2 else None


def report_facts(
    filters: FeedbackFilters, *, stale: sa.ColumnElement[bool]
) -> tuple[datetime | None, int]:
    """Of the reports the filters select: the latest ``updated_at``, and how many match
    ``stale`` (portal.services.export_text.stale: redacted under older rules)."""
    latest, matching = db.session.execute(
        _query(filters).with_only_columns(
            sa.func.max(Ticket.updated_at), sa.func.count().filter(stale)
        )
    ).one()
    return latest, matching


def count(filters: FeedbackFilters) -> int:
    """How many records the filters select."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(_query(filters).subquery()))


def records(
    filters: FeedbackFilters,
    *,
    after: int | None = None,
    limit: int | None = None,
    batch: int = BATCH,
) -> Iterator[tuple[int, dict]]:
    """The records the filters select, in report order, as (report id, record) pairs: the id is
    the keyset cursor (``after``) and never leaves the portal. At most ``limit`` records."""
    for ids, columns in record_batches(filters, after=after, limit=limit, batch=batch):
        names = tuple(columns)
        for ticket_id, values in zip(ids, zip(*columns.values(), strict=True), strict=True):
            yield ticket_id, dict(zip(names, values, strict=True))


def record_batches(
    filters: FeedbackFilters,
    *,
    after: int | None = None,
    limit: int | None = None,
    batch: int = BATCH,
) -> Iterator[tuple[list[int], dict[str, list]]]:
    """The same records a batch at a time, column by column: (report ids, {field: values}),
    the fields in the schema's order. ``records`` is made of these; a columnar format (Parquet)
    takes them as they are, without a dictionary per record."""
    key = _record_key(current_app.config["SECRET_KEY"])
    query = _query(filters).order_by(Ticket.id)
    # Core rows from the session's connection: the ORM's result handling is not needed for
    # plain columns, and cost a fifth of an export.
    connection = db.session.connection()
    last, sent = after or 0, 0
    while limit is None or sent < limit:
        size = batch if limit is None else min(batch, limit - sent)
        rows = connection.execute(query.where(Ticket.id > last).limit(size)).fetchall()
        if rows:
            yield _columns(rows, key)
        sent += len(rows)
        if len(rows) < size:
            return
        last = rows[-1][0]


def _columns(rows, key: bytes) -> tuple[list[int], dict[str, list]]:
    # Transposed by position, in _query's order.
    (
        ids,
        kinds,
        model_slugs,
        model_versions,
        categories,
        severities_reported,
        severities_triaged,
        languages,
        created,
        outputs,
        inputs,
        expected_outputs,
        decided,
        outcomes,
        remedies,
        appeal_results,
        follow_up_answers,
        *counts,
    ) = zip(*rows, strict=True)
    identifiers = [_record_id(ticket_id, key) for ticket_id in ids]
    return list(ids), {
        "schema_version": [SCHEMA_VERSION] * len(ids),
        "record_id": identifiers,
        "split": [split_of(identifier) for identifier in identifiers],
        "kind": list(kinds),
        "model_slug": list(model_slugs),
        "model_version": list(model_versions),
        "category": list(categories),
        "severity_reported": list(severities_reported),
        "severity_triaged": list(severities_triaged),
        "language": list(languages),
        "created_at": [moment(value) for value in created],
        "decided_at": [moment(value) for value in decided],
        "output": [output or "" for output in outputs],
        "input": list(inputs),
        "expected_output": list(expected_outputs),
        "outcome": list(outcomes),
        "remedies": [_json(value) or [] for value in remedies],
        "appeal_result": list(appeal_results),
        "follow_up_answer": list(follow_up_answers),
        "redaction_counts": [
            dict(zip(REDACTION_KINDS, found, strict=True)) for found in zip(*counts, strict=True)
        ],
    }


def _json(value):
    """A JSON column's raw value: text on SQLite, already parsed by psycopg on PostgreSQL.

    The same few texts come again and again (``["none"]``): each is parsed once, and a copy
    handed out, so that no record shares a list with another."""
    if not isinstance(value, str):
        return value
    parsed = _PARSED.get(value)
    if parsed is None:
        if len(_PARSED) >= _PARSED_LIMIT:
            _PARSED.clear()
        parsed = _PARSED[value] = json.loads(value)
    return parsed.copy()


# Parsed JSON texts of the remedies (bounded: they repeat, few differ).
_PARSED: dict = {}
_PARSED_LIMIT = 4096


def moment(value: str | datetime | None) -> str | None:
    """UTC, to the second, with a Z: the same text on both databases. SQLite gives back the
    text it stored (UTC, "YYYY-MM-DD HH:MM:SS.ffffff"); psycopg an aware datetime."""
    if value is None:
        return None
    if isinstance(value, str):
        return f"{value[:10]}T{value[11:19]}Z"
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return f"{value.isoformat(timespec='seconds')[:19]}Z"


def tombstones() -> Iterator[str]:
    """The record ids downstream must delete: consent taken back, data erased, the report
    withdrawn, merged or found to be spam. Every one, each time (deleting twice is harmless)."""
    key = _record_key(current_app.config["SECRET_KEY"])
    last = 0
    while True:
        ids = db.session.scalars(
            sa.select(Ticket.id).where(gone(), Ticket.id > last).order_by(Ticket.id).limit(BATCH)
        ).all()
        for ticket_id in ids:
            yield _record_id(ticket_id, key)
        if len(ids) < BATCH:
            return
        last = ids[-1]


def preference_pair(record: dict) -> dict | None:
    """A dispute with an expected output, as a preference pair: the prompt, the expected output
    chosen over the original one. None for any other record."""
    if record["kind"] != "output_dispute" or not record["expected_output"]:
        return None
    return {
        "schema_version": SCHEMA_VERSION,
        "record_id": record["record_id"],
        "split": record["split"],
        "model_slug": record["model_slug"],
        "model_version": record["model_version"],
        "language": record["language"],
        "prompt": record["input"] or "",
        "chosen": record["expected_output"],
        "rejected": record["output"],
    }
