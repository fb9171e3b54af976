"""What the clock process leaves behind: one heartbeat row per scheduled job."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models.types import UTCDateTime


class ClockHeartbeat(db.Model):
    """When a job of the clock process last started, finished and succeeded, and how its last
    run ended: a job that keeps failing still finishes, but no longer succeeds.

    ``last_error`` is the exception's type name only (or a fixed note such as "not available"):
    messages can quote addresses or report text.
    """

    __tablename__ = "clock_heartbeats"

    job_name: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_succeeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(sa.String(100))
