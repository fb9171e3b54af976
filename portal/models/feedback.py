"""Feedback exports for product teams, and the personal API tokens analysts read them with.

An export is a request (filters and a format) that the clock runs in the background; it writes
its files and a manifest into its own folder under ``PORTAL_EXPORT_DIR`` and records progress
here, so that the analyst's page can show it. A token is shown once and stored as a SHA-256
hash; it only reads exports (``scope``), and can be revoked.
"""

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.clock import utcnow
from portal.extensions import db
from portal.models.enums import LabelledEnum
from portal.models.registry import StaffUser
from portal.models.types import UTCDateTime, enum_column_type


class ExportFormat(LabelledEnum):
    JSONL = "jsonl", _l("JSON Lines")
    CSV = "csv", _l("CSV")
    PARQUET = "parquet", _l("Parquet")
    HUGGING_FACE = "hf", _l("Hugging Face dataset folder")
    PREFERENCE_PAIRS = "pairs", _l("Preference pairs (JSON Lines)")


class ExportStatus(LabelledEnum):
    QUEUED = "queued", _l("Waiting to start")
    RUNNING = "running", _l("Running")
    DONE = "done", _l("Ready")
    FAILED = "failed", _l("Failed")


class FeedbackExport(db.Model):
    __tablename__ = "feedback_exports"
    __table_args__ = (sa.Index("ix_feedback_exports_status", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # None: made on the command line (flask export feedback).
    requested_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    format: Mapped[ExportFormat] = mapped_column(
        enum_column_type(ExportFormat, "ck_feedback_exports_format")
    )
    # portal.services.feedback.FeedbackFilters.to_json()
    filters: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    status: Mapped[ExportStatus] = mapped_column(
        enum_column_type(ExportStatus, "ck_feedback_exports_status"), default=ExportStatus.QUEUED
    )
    rows_total: Mapped[int | None]
    rows_done: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The folder of its files, relative to PORTAL_EXPORT_DIR.
    folder: Mapped[str | None] = mapped_column(sa.String(200))
    manifest: Mapped[dict | None] = mapped_column(sa.JSON)
    # What went wrong, for staff (an exception's type, never data).
    error: Mapped[str | None] = mapped_column(sa.String(200))
    # The language of the page it was asked for from: its dataset card is written in it.
    locale: Mapped[str] = mapped_column(sa.String(16), default="en", server_default="en")

    requested_by: Mapped[StaffUser | None] = relationship()


class ApiToken(db.Model):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("staff_users.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # The token's first characters, to tell tokens apart in the list (not enough to use one).
    prefix: Mapped[str] = mapped_column(sa.String(16))
    scope: Mapped[str] = mapped_column(sa.String(32), default="exports:read")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[StaffUser] = relationship()
