"""Teams, staff and the registry of AI models and their versions."""

import secrets
from datetime import date, datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.clock import utcnow
from portal.extensions import db
from portal.models.enums import Role, VersionStatus
from portal.models.types import UTCDateTime, enum_column_type


class Team(db.Model):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    timezone: Mapped[str] = mapped_column(sa.String(64), default="UTC")
    # New tickets go straight to the least busy member who speaks their language.
    auto_assign: Mapped[bool] = mapped_column(default=False)
    # The team's working week for SLA timers on business hours: [[weekday (0 = Monday),
    # "09:00", "17:00"], ...] in ``timezone``; None means Monday to Friday, 09:00 to 17:00.
    working_hours: Mapped[list | None] = mapped_column(sa.JSON)
    # Public holidays (ISO 3166 country code for the ``holidays`` package, and subdivision).
    holidays_country: Mapped[str | None] = mapped_column(sa.String(8))
    holidays_subdivision: Mapped[str | None] = mapped_column(sa.String(32))


class StaffUser(UserMixin, db.Model):
    """A member of staff, who signs in with an e-mail address and a password."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(320), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(200))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    # Part of the session's user id: changing it (sign-out, disabling, a new password) ends
    # every session, including cookies copied before.
    session_nonce: Mapped[str] = mapped_column(sa.String(64), default=lambda: secrets.token_hex(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The second factor: the authenticator app's shared secret, encrypted with a key derived
    # from SECRET_KEY (see portal.services.totp); None until a first code confirms the set-up.
    totp_secret_encrypted: Mapped[str | None] = mapped_column(sa.String(255))
    # The time step of the last code accepted: a code is refused unless its step is later, so
    # that a code seen over someone's shoulder cannot be used again.
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger)

    role_grants: Mapped[list["StaffRole"]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="StaffRole.role"
    )

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(grant.role for grant in self.role_grants)

    def has_any_role(self, roles) -> bool:
        return not self.roles.isdisjoint(roles)

    @property
    def totp_enabled(self) -> bool:
        return self.totp_secret_encrypted is not None

    def get_id(self) -> str:
        return f"{self.id}:{self.session_nonce}"


class StaffRole(db.Model):
    """One role held by one member of staff; a person may hold several."""

    __tablename__ = "staff_roles"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("staff_users.id"), primary_key=True)
    role: Mapped[Role] = mapped_column(
        enum_column_type(Role, "ck_staff_roles_role"), primary_key=True
    )

    user: Mapped[StaffUser] = relationship(back_populates="role_grants")


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
