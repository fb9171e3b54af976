"""What staff keep for their casework: saved replies per team and language."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.clock import utcnow
from portal.extensions import db
from portal.models.registry import Team
from portal.models.types import UTCDateTime

SAVED_REPLY_MAX_CHARS = 5_000


class SavedReply(db.Model):
    """A reply an owner wrote once for their team, for agents to start from, in one language."""

    __tablename__ = "saved_replies"
    __table_args__ = (
        sa.UniqueConstraint(
            "team_id", "locale", "title", name="uq_saved_replies_team_locale_title"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(sa.ForeignKey("teams.id"))
    locale: Mapped[str] = mapped_column(sa.String(16))
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    team: Mapped[Team] = relationship()
