"""Service-level policies: how long the organisation gives itself to answer, update and resolve.

A policy applies to tickets of one severity (or to appeals), optionally only in one category or
one team; the most specific matching policy wins (see ``portal.services.sla.policy_for``). Each
duration runs on a calendar: round the clock, or the ticket team's working hours and holidays.
"""

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.enums import Category, LabelledEnum, Severity
from portal.models.registry import Team
from portal.models.types import enum_column_type


class DurationUnit(LabelledEnum):
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

    team: Mapped[Team | None] = relationship()
