"""Teams' members and the routing rules that send each new ticket to its team."""

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.enums import Category, Severity, TicketKind
from portal.models.registry import AIModel, ModelVersion, StaffUser, Team
from portal.models.types import enum_column_type


class TeamMembership(db.Model):
    __tablename__ = "team_memberships"

    team_id: Mapped[int] = mapped_column(sa.ForeignKey("teams.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("staff_users.id"), primary_key=True)

    team: Mapped[Team] = relationship()
    user: Mapped[StaffUser] = relationship()


class StaffLanguage(db.Model):
    """A language a member of staff reads and writes (a locale code such as "fr")."""

    __tablename__ = "staff_languages"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("staff_users.id"), primary_key=True)
    locale: Mapped[str] = mapped_column(sa.String(16), primary_key=True)


class RoutingRule(db.Model):
    """Send tickets that match every condition given (None: any) to ``team``.

    Rules are tried in ``position`` order and the first match wins; a rule with no conditions
    catches everything that reaches it, which is how a default team is set.
    """

    __tablename__ = "routing_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    team_id: Mapped[int] = mapped_column(sa.ForeignKey("teams.id"))
    is_active: Mapped[bool] = mapped_column(default=True)
    kind: Mapped[TicketKind | None] = mapped_column(
        enum_column_type(TicketKind, "ck_routing_rules_kind")
    )
    category: Mapped[Category | None] = mapped_column(
        enum_column_type(Category, "ck_routing_rules_category")
    )
    model_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ai_models.id"))
    model_version_id: Mapped[int | None] = mapped_column(sa.ForeignKey("model_versions.id"))
    locale: Mapped[str | None] = mapped_column(sa.String(16))
    severity: Mapped[Severity | None] = mapped_column(
        enum_column_type(Severity, "ck_routing_rules_severity")
    )

    team: Mapped[Team] = relationship()
    model: Mapped[AIModel | None] = relationship()
    model_version: Mapped[ModelVersion | None] = relationship()

    def matches(self, ticket) -> bool:
        conditions = (
            (self.kind, ticket.kind),
            (self.category, ticket.category),
            (self.model_id, ticket.model_id),
            (self.model_version_id, ticket.model_version_id),
            (self.locale, ticket.locale),
            (self.severity, ticket.effective_severity),
        )
        return all(wanted is None or wanted == actual for wanted, actual in conditions)
