"""Teams, staff and the registry of AI models and their versions."""

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.clock import utcnow
from portal.extensions import db
from portal.models.enums import VersionStatus
from portal.models.types import UTCDateTime, enum_column_type


class Team(db.Model):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC")


class StaffUser(db.Model):
    """A member of staff. Sign-in and roles arrive with the staff workspace."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(320), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(200))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AIModel(db.Model):
    __tablename__ = "ai_models"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(64), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(200))
    provider: Mapped[str] = mapped_column(sa.String(200))
    owning_team_id: Mapped[int | None] = mapped_column(sa.ForeignKey("teams.id"))

    owning_team: Mapped[Team | None] = relationship()
    versions: Mapped[list["ModelVersion"]] = relationship(
        back_populates="model", order_by="ModelVersion.released_on.desc()"
    )


class ModelVersion(db.Model):
    __tablename__ = "model_versions"
    __table_args__ = (
        sa.UniqueConstraint("model_id", "version", name="uq_model_versions_model_version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    model_id: Mapped[int] = mapped_column(sa.ForeignKey("ai_models.id"))
    version: Mapped[str] = mapped_column(sa.String(64))
    released_on: Mapped[date | None]
    status: Mapped[VersionStatus] = mapped_column(
        enum_column_type(VersionStatus, "ck_model_versions_status"), default=VersionStatus.ACTIVE
    )
    model_card_url: Mapped[str | None] = mapped_column(sa.String(500))

    model: Mapped[AIModel] = relationship(back_populates="versions")
