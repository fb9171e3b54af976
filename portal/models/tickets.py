"""Tickets (reports and disputes), their history, their evidence, and the e-mail outbox."""

from datetime import date, datetime
from typing import ClassVar

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from portal.clock import utcnow
from portal.extensions import db
from portal.models.enums import (
    AI_OUTPUT_KINDS,
    Actor,
    Category,
    EventKind,
    OutboxStatus,
    ReporterRole,
    Severity,
    Status,
    TicketKind,
)
from portal.models.registry import AIModel, ModelVersion, StaffUser, Team
from portal.models.types import UTCDateTime, enum_column_type

# The kinds of personal data the redaction of exports replaces (portal.services.redaction), in
# the order a feedback record lists their counts; each has its column (``redacted_<kind>``).
REDACTION_KINDS = ("email", "phone", "ip", "url", "card", "iban", "name")

# Length limits, shared by the forms and the database.
OUTPUT_MAX_CHARS = 20_000
DESCRIPTION_MAX_CHARS = 10_000
SHORT_TEXT_MAX_CHARS = 2_000


# The queue filters on one column and sorts by (created_at, id), by (priority, created_at, id),
# or next due first (the partial indexes in Ticket.__table_args__): one index per filterable
# column, ending in the sort keys, keeps every view an index range scan that stops after a page
# (tests/test_queue_plans.py checks the query plans).
QUEUE_FILTER_COLUMNS = (
    "status",
    "team_id",
    "assignee_id",
    "kind",
    "category",
    "model_id",
    "model_version_id",
    "locale",
    "priority",
)

# Effective severity as a number, so that "most severe first" is an index order.
SEVERITY_PRIORITY = {
    Severity.LOW: 1,
    Severity.MEDIUM: 2,
    Severity.HIGH: 3,
    Severity.CRITICAL: 4,
}


class Ticket(db.Model):
    __tablename__ = "tickets"
    __table_args__ = (
        *(
            sa.Index(f"ix_tickets_queue_{column}", column, "created_at", "id")
            for column in QUEUE_FILTER_COLUMNS
        ),
        # "Next due first" walks the reports whose deadline runs, soonest first: all of them, or
        # one team's (an agent's usual view); the service levels are ranges of the same walk
        # (portal.services.sla.in_state). Partial, so that no index on next_due_at holds the
        # NULL bucket of every closed report: SQLite's statistics (one average per value)
        # would take it for a handful of rows and read it all.
        sa.Index(
            "ix_tickets_queue_due",
            "next_due_at",
            "id",
            sqlite_where=sa.text("next_due_at IS NOT NULL"),
            postgresql_where=sa.text("next_due_at IS NOT NULL"),
        ),
        sa.Index(
            "ix_tickets_queue_team_due",
            "team_id",
            "next_due_at",
            "id",
            sqlite_where=sa.text("next_due_at IS NOT NULL"),
            postgresql_where=sa.text("next_due_at IS NOT NULL"),
        ),
        # Then the open reports with no deadline running (waiting for the reporter, or not yet
        # recomputed after an upgrade), one status at a time; the SLA dashboard counts them
        # through it too. Partial on the open statuses (portal.services.sla.TIMED_STATUSES),
        # so that it holds just those: through ix_tickets_queue_status, the walk of a status
        # whose every report has a deadline would read them all to find none. The deadline,
        # NULL throughout, leads the order, which no other index then gives (see
        # portal.services.queue._nothing_due). The statuses are literal text: a status written
        # into a statement implies the condition on both databases, and the dashboard repeats
        # it to the letter (portal.services.queue.OPEN_NOTHING_DUE).
        sa.Index(
            "ix_tickets_queue_open_nothing_due",
            "status",
            "next_due_at",
            "created_at",
            "id",
            sqlite_where=sa.text(
                "next_due_at IS NULL AND (status = 'new' OR status = 'triaged'"
                " OR status = 'investigating' OR status = 'awaiting_reporter'"
                " OR status = 'appealed')"
            ),
            postgresql_where=sa.text(
                "next_due_at IS NULL AND (status = 'new' OR status = 'triaged'"
                " OR status = 'investigating' OR status = 'awaiting_reporter'"
                " OR status = 'appealed')"
            ),
        ),
        # The sweep's claim repeats this condition exactly (portal.services.sla.ESCALATION_DUE).
        sa.Index(
            "ix_tickets_escalation_due",
            "next_escalation_at",
            sqlite_where=sa.text("next_escalation_at IS NOT NULL"),
            postgresql_where=sa.text("next_escalation_at IS NOT NULL"),
        ),
        # The SLA dashboard's last 30 days (portal.services.sla_report), for each target (the
        # first response, the decision): the targets met, by when (the window's range, for the
        # compliance and the medians), and the targets not met, by their deadline. Partial, so
        # that each holds only what its range can find: a new report enters the two indexes of
        # targets not met, and moves to the other of each pair as that target is met. The
        # queries repeat each condition exactly.
        sa.Index(
            "ix_tickets_first_response_at",
            "first_response_at",
            sqlite_where=sa.text("first_response_at IS NOT NULL"),
            postgresql_where=sa.text("first_response_at IS NOT NULL"),
        ),
        sa.Index(
            "ix_tickets_first_response_unmet",
            "first_response_due_at",
            sqlite_where=sa.text("first_response_at IS NULL"),
            postgresql_where=sa.text("first_response_at IS NULL"),
        ),
        sa.Index(
            "ix_tickets_decided_at",
            "decided_at",
            sqlite_where=sa.text("decided_at IS NOT NULL"),
            postgresql_where=sa.text("decided_at IS NOT NULL"),
        ),
        # The export-ready text still to make, or to make again under new rules
        # (portal.services.export_text.stale): a range of this index.
        sa.Index("ix_tickets_redaction_version", "redaction_version"),
        sa.Index(
            "ix_tickets_decision_unmet",
            "resolve_due_at",
            sqlite_where=sa.text("decided_at IS NULL"),
            postgresql_where=sa.text("decided_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(sa.String(16), unique=True)
    kind: Mapped[TicketKind] = mapped_column(enum_column_type(TicketKind, "ck_tickets_kind"))
    status: Mapped[Status] = mapped_column(
        enum_column_type(Status, "ck_tickets_status"), default=Status.NEW
    )
    reporter_role: Mapped[ReporterRole] = mapped_column(
        enum_column_type(ReporterRole, "ck_tickets_reporter_role")
    )

    model_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ai_models.id"))
    model_version_id: Mapped[int | None] = mapped_column(sa.ForeignKey("model_versions.id"))
    # The owning team, set by the routing rules when the ticket is created.
    team_id: Mapped[int | None] = mapped_column(sa.ForeignKey("teams.id"))
    # The member of that team working on it; None: waiting in the team's queue.
    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_users.id"))
    # What the reporter typed when their model or version was not in the registry.
    model_not_listed: Mapped[str | None] = mapped_column(sa.String(SHORT_TEXT_MAX_CHARS))
    output_id: Mapped[str | None] = mapped_column(sa.String(200))

    output_text: Mapped[str] = mapped_column(sa.Text)
    input_text: Mapped[str | None] = mapped_column(sa.Text)
    occurred_on: Mapped[date | None]
    description: Mapped[str] = mapped_column(sa.Text)
    impact: Mapped[str | None] = mapped_column(sa.String(SHORT_TEXT_MAX_CHARS))
    requested_outcome: Mapped[str | None] = mapped_column(sa.String(SHORT_TEXT_MAX_CHARS))
    expected_output: Mapped[str | None] = mapped_column(sa.Text)

    category: Mapped[Category] = mapped_column(enum_column_type(Category, "ck_tickets_category"))
    # As the reporter stated it, never overwritten; staff keep their own in ``severity``.
    reporter_severity: Mapped[Severity] = mapped_column(
        enum_column_type(Severity, "ck_tickets_reporter_severity")
    )
    severity: Mapped[Severity | None] = mapped_column(
        enum_column_type(Severity, "ck_tickets_severity")
    )
    # SEVERITY_PRIORITY of the effective severity, kept in step by ``_keep_priority``.
    priority: Mapped[int] = mapped_column(sa.SmallInteger, default=2)
    immediate_danger: Mapped[bool] = mapped_column(default=False)
    # Set when staff flag a possible serious incident (the regulator's clock starts here).
    serious_incident_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Closed as spam: no reply, and kept out of statistics and exports.
    is_spam: Mapped[bool] = mapped_column(default=False)
    # The ticket this one was merged into (status MERGED); its reporter keeps their link.
    merged_into_id: Mapped[int | None] = mapped_column(sa.ForeignKey("tickets.id"), index=True)

    locale: Mapped[str] = mapped_column(sa.String(16))
    timezone: Mapped[str] = mapped_column(sa.String(64))

    consent_contact: Mapped[bool] = mapped_column(default=False)
    consent_training: Mapped[bool] = mapped_column(default=False)
    consent_public_stats: Mapped[bool] = mapped_column(default=False)
    # When the reporter took back their consent to model-improvement use: the report leaves
    # the exports, and later exports list it in their tombstones.
    training_consent_withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reporter_name: Mapped[str | None] = mapped_column(sa.String(200))
    contact_email: Mapped[str | None] = mapped_column(sa.String(320))

    # SHA-256 of the secret tracking token; the token itself is never stored.
    tracking_token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # Bumped when a new link is issued, which invalidates browsers holding the old one.
    tracking_version: Mapped[int] = mapped_column(default=1)
    # SHA-256 of the form's one-time key: a retried submission finds the ticket it made.
    submission_key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # Indexed: an incremental export reads what changed since its cursor.
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, index=True
    )
    # The export-ready text (portal.services.redaction): the output, the input and the expected
    # output with personal data replaced by typed placeholders, computed when the text is
    # stored or changed, and again for every row when the rules' version changes; with what
    # was replaced, by kind. An export only reads these.
    export_output: Mapped[str | None] = mapped_column(sa.Text)
    export_input: Mapped[str | None] = mapped_column(sa.Text)
    export_expected_output: Mapped[str | None] = mapped_column(sa.Text)
    # How many of each kind of personal data the redaction replaced (REDACTION_KINDS): plain
    # columns, which an export reads much faster than a JSON document.
    redacted_email: Mapped[int] = mapped_column(sa.SmallInteger, default=0, server_default="0")
    redacted_phone: Mapped[int] = mapped_column(sa.SmallInteger, default=0, server_default="0")
    redacted_ip: Mapped[int] = mapped_column(sa.SmallInteger, default=0, server_default="0")
    redacted_url: Mapped[int] = mapped_column(sa.SmallInteger, default=0, server_default="0")
    redacted_card: Mapped[int] = mapped_column(sa.SmallInteger, default=0, server_default="0")
    redacted_iban: Mapped[int] = mapped_column(sa.SmallInteger, default=0, server_default="0")
    redacted_name: Mapped[int] = mapped_column(sa.SmallInteger, default=0, server_default="0")
    # The redaction rules' version these were made with; None: not made yet.
    redaction_version: Mapped[int | None] = mapped_column(sa.SmallInteger)
    # SLA deadlines, kept by portal.services.sla.recompute_deadlines; next_due_at is the earliest
    # one still running (None while paused or once closed), for the queue's "next due" order.
    first_response_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_update_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolve_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the first running timer passes its warning point (WARNING_SHARE of its length): from
    # then until next_due_at the ticket is at risk (see portal.services.sla.in_state).
    at_risk_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the sweep next has a step to take (a warning, a breach, an escalation); None when
    # nothing is running. A partial index (see __table_args__) keeps the sweep's query cheap.
    next_escalation_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_update_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # While awaiting the reporter the clocks stop: when they stopped, and the working time spent
    # stopped before (measured on the calendar in force when each pause ended).
    sla_paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sla_paused_seconds: Mapped[int] = mapped_column(default=0)
    # The same, counted only since the last update (the next-update timer's own pauses).
    sla_update_paused_seconds: Mapped[int] = mapped_column(default=0)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the reporter last appealed: the appeal's own timers run from here.
    appealed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When work on it ended: closed, withdrawn or merged (an appeal reopens a closed report,
    # and closing it again moves this on). Retention counts from here.
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When its reporter's personal data and free text were erased, at their request or by
    # retention (portal.services.erasure); the structured labels stay, for the statistics.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Optimistic locking: every UPDATE checks and bumps it, so two staff members saving the same
    # ticket cannot silently overwrite each other (the forms carry the version they showed).
    row_version: Mapped[int] = mapped_column(default=1)

    model: Mapped[AIModel | None] = relationship()
    model_version: Mapped[ModelVersion | None] = relationship()
    team: Mapped[Team | None] = relationship()
    assignee: Mapped[StaffUser | None] = relationship()
    merged_into: Mapped["Ticket | None"] = relationship(remote_side=[id])
    events: Mapped[list["TicketEvent"]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id"
    )
    attachments: Mapped[list["Attachment"]] = relationship(
        back_populates="ticket", order_by="Attachment.id"
    )

    __mapper_args__: ClassVar[dict] = {"version_id_col": row_version}

    @property
    def redaction_counts(self) -> dict[str, int]:
        """What the redaction replaced in the export-ready text, by kind (the kinds found)."""
        counts = {kind: getattr(self, f"redacted_{kind}") or 0 for kind in REDACTION_KINDS}
        return {kind: found for kind, found in counts.items() if found}

    @property
    def effective_severity(self) -> Severity:
        return self.severity or self.reporter_severity

    @validates("severity", "reporter_severity")
    def _keep_priority(self, key, value):
        staff = value if key == "severity" else self.severity
        reporter = value if key == "reporter_severity" else self.reporter_severity
        effective = staff or reporter
        if effective is not None:
            self.priority = SEVERITY_PRIORITY[Severity(effective)]
        return value

    @property
    def is_about_an_output(self) -> bool:
        """A harm report or a dispute; not a barrier to using the portal, whose form asks
        nothing about an AI output (its role, category and severity are routing defaults, not
        the reporter's answers, and are never shown as theirs)."""
        return self.kind in AI_OUTPUT_KINDS

    @property
    def needs_safety_resources(self) -> bool:
        return self.immediate_danger or self.category is Category.SELF_HARM


class TicketEvent(db.Model):
    """One change to a ticket. Public events are the reporter's view of the history."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(sa.ForeignKey("tickets.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[EventKind] = mapped_column(enum_column_type(EventKind, "ck_ticket_events_kind"))
    actor: Mapped[Actor] = mapped_column(enum_column_type(Actor, "ck_ticket_events_actor"))
    is_public: Mapped[bool] = mapped_column(default=True)
    from_status: Mapped[Status | None] = mapped_column(
        enum_column_type(Status, "ck_ticket_events_from_status")
    )
    to_status: Mapped[Status | None] = mapped_column(
        enum_column_type(Status, "ck_ticket_events_to_status")
    )
    body: Mapped[str | None] = mapped_column(sa.Text)
    # The member of staff who acted (actor STAFF); None for the reporter and the system.
    staff_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_users.id"))
    # What changed, as data the history renders in the viewer's language and the audit log
    # copies: ids, references and enum values only, never free text or personal data.
    detail: Mapped[dict | None] = mapped_column(sa.JSON)

    ticket: Mapped[Ticket] = relationship(back_populates="events")
    staff: Mapped[StaffUser | None] = relationship()
    attachments: Mapped[list["Attachment"]] = relationship(back_populates="event")


class Attachment(db.Model):
    """An evidence file, stored outside ``static/`` under a random name.

    Before its report is submitted a file belongs to a draft (the hash of the form's one-time
    key), so that a form shown again after an error keeps what was already uploaded.
    """

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(sa.ForeignKey("tickets.id"), index=True)
    event_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ticket_events.id"))
    draft_key_hash: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    storage_name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    original_name: Mapped[str] = mapped_column(sa.String(255))
    content_type: Mapped[str] = mapped_column(sa.String(64))
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    ticket: Mapped[Ticket | None] = relationship(back_populates="attachments")
    event: Mapped[TicketEvent | None] = relationship(back_populates="attachments")


class OutboxMessage(db.Model):
    """An e-mail waiting to be sent, written in the same transaction as the change it reports."""

    __tablename__ = "outbox_messages"
    __table_args__ = (sa.Index("ix_outbox_messages_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ticket_id: Mapped[int | None] = mapped_column(sa.ForeignKey("tickets.id"), index=True)
    to_address: Mapped[str] = mapped_column(sa.String(320))
    subject: Mapped[str] = mapped_column(sa.String(300))
    body: Mapped[str] = mapped_column(sa.Text)
    locale: Mapped[str] = mapped_column(sa.String(16))
    # The body holds a secret link: scrub it once delivered.
    carries_secret: Mapped[bool] = mapped_column(default=False)
    status: Mapped[OutboxStatus] = mapped_column(
        enum_column_type(OutboxStatus, "ck_outbox_messages_status"), default=OutboxStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A sender claims a message before talking to SMTP: until ``claimed_until`` no other clock
    # takes it. A sender that dies mid-send leaves a lease that runs out, and the message is
    # retried (at least once, never twice while the lease holds).
    claimed_by: Mapped[str | None] = mapped_column(sa.String(64))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    ticket: Mapped[Ticket | None] = relationship()
