"""Service-level policies: how long the organisation gives itself to answer, update and resolve.

A policy applies to tickets of one severity (or to appeals), optionally only in one category or
one team; the most specific matching policy wins (see ``portal.services.sla.policy_for``). Each
duration runs on a calendar: round the clock, or the ticket team's working hours and holidays.
"""

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.clock import utcnow
from portal.extensions import db
from portal.models.enums import Category, LabelledEnum, Severity
from portal.models.registry import Team
from portal.models.types import UTCDateTime, enum_column_type


class DurationUnit(LabelledEnum):
    # Working minutes of the policy's calendar (real minutes on a round-the-clock calendar).
    MINUTES = "minutes", _l("minutes")
    # Working hours of the policy's calendar (real hours on a round-the-clock calendar).
    HOURS = "hours", _l("hours")
    # One business day is one day's working hours of the calendar.
    BUSINESS_DAYS = "business_days", _l("business days")


class SlaPolicy(db.Model):
    __tablename__ = "sla_policies"
    id: Mapped[int] = mapped_column(primary_key=True)
    for_appeals: Mapped[bool] = mapped_column(default=False)
    severity: Mapped[Severity | None] = mapped_column(
        enum_column_type(Severity, "ck_sla_policies_severity")
    )
    category: Mapped[Category | None] = mapped_column(
        enum_column_type(Category, "ck_sla_policies_category")
    )
    team_id: Mapped[int | None] = mapped_column(sa.ForeignKey("teams.id"))
    # False: the clock runs round the clock; True: only in the team's working hours.
    business_hours: Mapped[bool] = mapped_column(default=True)

    first_response_amount: Mapped[int]
    first_response_unit: Mapped[DurationUnit] = mapped_column(
        enum_column_type(DurationUnit, "ck_sla_policies_first_response_unit")
    )
    # None: no "next update" timer (appeals go straight to a decision).
    next_update_amount: Mapped[int | None]
    next_update_unit: Mapped[DurationUnit | None] = mapped_column(
        enum_column_type(DurationUnit, "ck_sla_policies_next_update_unit")
    )
    resolution_amount: Mapped[int]
    resolution_unit: Mapped[DurationUnit] = mapped_column(
        enum_column_type(DurationUnit, "ck_sla_policies_resolution_unit")
    )

    # One policy per scope: what it applies to, as one text, kept by ``_keep_scope_key``. The
    # columns themselves cannot carry the unique key: "any" is NULL, and NULLs never collide.
    scope_key: Mapped[str] = mapped_column(sa.String(100), unique=True)

    team: Mapped[Team | None] = relationship()

    @property
    def scope(self) -> str:
        return scope_key(self.for_appeals, self.severity, self.category, self.team_id)


def scope_key(
    for_appeals: bool, severity: Severity | None, category: Category | None, team_id: int | None
) -> str:
    """A policy's scope as text, "*" standing for "any": e.g. "severity|high|*|3"."""
    parts = (
        "appeal" if for_appeals else "severity",
        Severity(severity).value if severity else "*",
        Category(category).value if category else "*",
        str(team_id) if team_id else "*",
    )
    return "|".join(parts)


@sa.event.listens_for(SlaPolicy, "before_insert")
@sa.event.listens_for(SlaPolicy, "before_update")
def _keep_scope_key(_mapper, _connection, policy: SlaPolicy) -> None:
    policy.scope_key = policy.scope


class Timer(LabelledEnum):
    FIRST_RESPONSE = "first_response", _l("First response")
    NEXT_UPDATE = "next_update", _l("Next update")
    RESOLUTION = "resolution", _l("Decision")


class EscalationLevel(LabelledEnum):
    # At 75 % of the timer: the person working on the ticket is warned.
    WARNING = "warning", _l("Warning: at risk")
    # At the deadline: the team's owners, and the ticket is breached.
    BREACH = "breach", _l("Breached: escalated to the team's owners")
    # At the deadline plus half the timer's length: the administrators.
    ADMINS = "admins", _l("Escalated to the administrators")


class SlaState(LabelledEnum):
    """Where a ticket's running timers stand now (tickets whose clocks stand still have none)."""

    ON_TIME = "on_time", _l("On time")
    # Past the warning point of a running timer, not yet past its deadline.
    AT_RISK = "at_risk", _l("At risk")
    # Past the deadline of a running timer.
    BREACHED = "breached", _l("Breached")


class SlaEscalation(db.Model):
    """One escalation step taken for one deadline of one timer of one ticket.

    The unique key is the backstop of the sweep's claim: a second clock, or a sweep run again
    after a crash, cannot take the same step for the same deadline twice; a deadline that moves
    (recomputed, or re-armed by a reply) is a new deadline, whose steps are taken afresh.
    """

    __tablename__ = "sla_escalations"
    __table_args__ = (
        sa.UniqueConstraint(
            "ticket_id", "timer", "deadline", "level", name="uq_sla_escalations_step"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(sa.ForeignKey("tickets.id"), index=True)
    timer: Mapped[Timer] = mapped_column(enum_column_type(Timer, "ck_sla_escalations_timer"))
    deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    level: Mapped[EscalationLevel] = mapped_column(
        enum_column_type(EscalationLevel, "ck_sla_escalations_level")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
