"""Decisions with their statement of reasons, appeals against them, and reason templates.

A ticket is decided with an outcome, the remedies taken and a structured statement of reasons
(what the EU Digital Services Act, Art. 17, asks of a statement of reasons): the facts relied on,
the measure and its scope, whether automated means were used, and the policy clause relied on.
The redress open to the reporter is not stored: it is the appeal here plus the outside route the
deployment configures (``PORTAL_OUTSIDE_REDRESS``), shown with every decision.

An appeal contests one decision (never twice) and is answered by a decision of its own, taken
by someone other than the original decider, which confirms or reverses it.
"""

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.enums import Category, LabelledEnum
from portal.models.registry import ModelVersion, StaffUser, Team
from portal.models.tickets import SHORT_TEXT_MAX_CHARS, Ticket
from portal.models.types import UTCDateTime, enum_column_type

# The length of each free-text part of a statement of reasons.
REASONS_MAX_CHARS = 5_000


class Outcome(LabelledEnum):
    UPHELD = "upheld", _l("Upheld")
    PARTLY_UPHELD = "partly_upheld", _l("Partly upheld")
    NOT_UPHELD = "not_upheld", _l("Not upheld")
    NO_ACTION_POSSIBLE = "no_action_possible", _l("No action possible")


class Remedy(LabelledEnum):
    OUTPUT_CORRECTED = "output_corrected", _l("The output was corrected")
    CONTENT_REMOVED = "content_removed", _l("Content was removed or blocked")
    # With the model version that carries the fix (Decision.fixed_in_version).
    MODEL_FIXED = "model_fixed", _l("The model's behaviour was fixed")
    SAFEGUARD_ADDED = "safeguard_added", _l("A safeguard was added")
    ACCESS_RESTORED = "access_restored", _l("Access was restored")
    APOLOGY = "apology", _l("An apology")
    REFERRED = "referred", _l("Referred to another body")
    NONE = "none", _l("None")


class AutomatedMeans(LabelledEnum):
    NONE = "none", _l("No automated means were used")
    DETECTION = "detection", _l("Automated means were used to detect the problem")
    DECISION = "decision", _l("Automated means were used in deciding")
    BOTH = "both", _l("Automated means were used to detect the problem and in deciding")


class AppealResult(LabelledEnum):
    CONFIRMED = "decision_confirmed", _l("Decision confirmed")
    REVERSED = "decision_reversed", _l("Decision reversed")


class FollowUpAnswer(LabelledEnum):
    """The reporter's answer to "Did this resolve your concern?", asked some days after a
    decision (``PORTAL_FOLLOW_UP_DAYS``)."""

    YES = "yes", _l("Yes")
    PARTLY = "partly", _l("Partly")
    NO = "no", _l("No")


class Decision(db.Model):
    """One decision on a ticket: the first one, or the answer to an appeal (``appeal_result``
    set, and the appeal's ``answer_id`` pointing here). The latest decision is the one in
    force; ``Ticket.decided_at`` is when it was taken (None while an appeal awaits its
    answer: a decision is owed again)."""

    __tablename__ = "decisions"
    __table_args__ = (
        # The dashboard's last 30 days (portal.services.redress_report): the decisions taken,
        # and the follow-up answers given, in the window.
        sa.Index("ix_decisions_decided_at", "decided_at"),
        sa.Index(
            "ix_decisions_follow_up_answered_at",
            "follow_up_answered_at",
            sqlite_where=sa.text("follow_up_answered_at IS NOT NULL"),
            postgresql_where=sa.text("follow_up_answered_at IS NOT NULL"),
        ),
        # The follow-up question still to ask (portal.services.follow_up): partial, so that it
        # holds only the few decisions not asked about yet, however many there are in all.
        sa.Index(
            "ix_decisions_follow_up_due",
            "decided_at",
            sqlite_where=sa.text("follow_up_asked_at IS NULL"),
            postgresql_where=sa.text("follow_up_asked_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(sa.ForeignKey("tickets.id"), index=True)
    outcome: Mapped[Outcome] = mapped_column(enum_column_type(Outcome, "ck_decisions_outcome"))
    # Remedy values, in the order chosen; [] only with Remedy.NONE's meaning left implicit.
    remedies: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    remedy_details: Mapped[str | None] = mapped_column(sa.Text)
    fixed_in_version_id: Mapped[int | None] = mapped_column(sa.ForeignKey("model_versions.id"))
    # The statement of reasons.
    facts: Mapped[str] = mapped_column(sa.Text)
    measure: Mapped[str] = mapped_column(sa.Text)
    automated_means: Mapped[AutomatedMeans] = mapped_column(
        enum_column_type(AutomatedMeans, "ck_decisions_automated_means")
    )
    policy_clause: Mapped[str] = mapped_column(sa.String(SHORT_TEXT_MAX_CHARS))
    # The language the free text was written in (shown as written, marked with it).
    language: Mapped[str] = mapped_column(sa.String(16))
    # Set on the answer to an appeal.
    appeal_result: Mapped[AppealResult | None] = mapped_column(
        enum_column_type(AppealResult, "ck_decisions_appeal_result")
    )
    decided_by_id: Mapped[int] = mapped_column(sa.ForeignKey("staff_users.id"))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The last moment the reporter may appeal it here, fixed when it was taken and told to
    # them (portal.services.decisions.appeal_deadline); None for the answer to an appeal.
    appealable_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The follow-up: when the reporter was asked whether the decision resolved their concern
    # (by e-mail if they agreed to be contacted, always on their page), and their answer.
    follow_up_asked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    follow_up_answer: Mapped[FollowUpAnswer | None] = mapped_column(
        enum_column_type(FollowUpAnswer, "ck_decisions_follow_up_answer")
    )
    follow_up_comment: Mapped[str | None] = mapped_column(sa.String(SHORT_TEXT_MAX_CHARS))
    follow_up_answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    ticket: Mapped[Ticket] = relationship()
    decided_by: Mapped[StaffUser] = relationship()
    fixed_in_version: Mapped[ModelVersion | None] = relationship()

    @property
    def remedy_members(self) -> list[Remedy]:
        return [Remedy(value) for value in self.remedies or []]


class Appeal(db.Model):
    """The reporter's appeal against one decision (the unique key: one appeal per decision)."""

    __tablename__ = "appeals"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(sa.ForeignKey("tickets.id"), index=True)
    decision_id: Mapped[int] = mapped_column(sa.ForeignKey("decisions.id"), unique=True)
    reason: Mapped[str] = mapped_column(sa.Text)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The decision that answers it; None while it is under review.
    answer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("decisions.id"), unique=True)

    ticket: Mapped[Ticket] = relationship()
    decision: Mapped[Decision] = relationship(foreign_keys=[decision_id])
    answer: Mapped[Decision | None] = relationship(foreign_keys=[answer_id])


class ReasonTemplate(db.Model):
    """A team's starting point for a statement of reasons, for one outcome (and optionally one
    kind of problem), in one language. Agents start from it and adapt it to the case."""

    __tablename__ = "reason_templates"
    __table_args__ = (
        sa.UniqueConstraint(
            "team_id", "locale", "title", name="uq_reason_templates_team_locale_title"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(sa.ForeignKey("teams.id"), index=True)
    # None: any kind of problem.
    category: Mapped[Category | None] = mapped_column(
        enum_column_type(Category, "ck_reason_templates_category")
    )
    outcome: Mapped[Outcome] = mapped_column(
        enum_column_type(Outcome, "ck_reason_templates_outcome")
    )
    locale: Mapped[str] = mapped_column(sa.String(16))
    title: Mapped[str] = mapped_column(sa.String(200))
    facts: Mapped[str] = mapped_column(sa.Text)
    measure: Mapped[str] = mapped_column(sa.Text)
    policy_clause: Mapped[str] = mapped_column(sa.String(SHORT_TEXT_MAX_CHARS))

    team: Mapped[Team] = relationship()
