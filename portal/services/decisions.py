"""Deciding a report: the outcome, the remedies and the statement of reasons; and answering an
appeal against a decision with a decision of its own.

``decide`` checks everything a statement of reasons needs before it changes anything, and
reports every problem at once (``DecisionRefused``), so that the person deciding fixes them in
one go. Like the other casework actions it records events naming the member of staff (and so
audit entries), leaves the commit to the caller and refuses a stale form (``StaleTicket``).
"""

import json
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app

from portal.config import SUPPORTED_LOCALES
from portal.extensions import db
from portal.i18n import language_name, valid_timezone
from portal.models import (
    Appeal,
    AppealResult,
    AutomatedMeans,
    Decision,
    EventKind,
    ModelVersion,
    Outcome,
    Remedy,
    StaffUser,
    Status,
    Ticket,
)
from portal.services import casework, sla
from portal.services.errors import CaseworkRefused, DomainError
from portal.services.ticket_audit import text_fingerprint

# Where a decision can be taken: on a report being worked on (a new or triaged one is moved on
# to investigating first, as the state machine requires), or on a report under appeal. A report
# waiting for its reporter goes back to investigating first, so that nobody decides while an
# answer is still expected.
DECIDABLE_STATES = frozenset({Status.NEW, Status.TRIAGED, Status.INVESTIGATING, Status.APPEALED})


class DecisionRefused(DomainError):
    """A decision that the rules of a statement of reasons, or of an appeal, do not allow.

    ``problems`` maps each answer at fault (the name of ``decide``'s parameter) to one of the
    codes below; the views show a message at that question. Every problem is found at once.
    """

    NO_FACTS = "no_facts"
    NO_MEASURE = "no_measure"
    NO_POLICY_CLAUSE = "no_policy_clause"
    NO_REMEDY = "no_remedy"
    NONE_WITH_OTHERS = "none_with_others"  # "None" ticked beside a remedy
    NO_MODEL = "no_model"  # a fix in the model, for a report that names no model of the registry
    NO_VERSION = "no_version"  # a fix in the model without the version that carries it
    NOT_THIS_MODEL = "not_this_model"  # a version of another model (or of none)
    VERSION_WITHOUT_FIX = "version_without_fix"  # a version, but no fix in the model
    UNKNOWN_LANGUAGE = "unknown_language"
    NO_APPEAL_RESULT = "no_appeal_result"  # answering an appeal without confirming or reversing
    NOT_AN_APPEAL = "not_an_appeal"  # confirming or reversing with no appeal to answer
    REVERSAL_KEEPS_OUTCOME = "reversal_keeps_outcome"
    CONFIRMATION_CHANGES_OUTCOME = "confirmation_changes_outcome"

    def __init__(self, problems: dict[str, str]):
        super().__init__(", ".join(f"{field}: {code}" for field, code in problems.items()))
        self.problems = problems


def decide(
    ticket: Ticket,
    *,
    outcome: Outcome,
    remedies: list[Remedy],
    remedy_details: str | None,
    fixed_in_version_id: int | None,
    facts: str,
    measure: str,
    automated_means: AutomatedMeans,
    policy_clause: str,
    language: str,
    staff: StaffUser,
    now: datetime,
    lost_link_url: casework.UrlBuilder,
    appeal_result: AppealResult | None = None,
    expect_version: int | None = None,
) -> Decision:
    """Decide ``ticket`` (or, under appeal, answer the appeal with ``appeal_result``) and move it
    to decided, which stops its timers. The decision is public: on the reporter's page, and
    e-mailed in their language if they agreed to be contacted.

    Raises ``StaleTicket`` for an out-of-date form, ``CaseworkRefused`` when the ticket cannot
    be decided now (``NOT_OPEN``) or not by ``staff`` (``ORIGINAL_DECIDER``: an appeal is
    answered by someone other than who took the decision under appeal), and
    ``DecisionRefused`` for the answers themselves. Nothing changes when it raises.
    """
    casework.check_version(ticket, expect_version)
    if ticket.status not in DECIDABLE_STATES:
        raise CaseworkRefused(CaseworkRefused.NOT_OPEN)
    appeal = open_appeal(ticket) if ticket.status is Status.APPEALED else None
    if ticket.status is Status.APPEALED:
        if appeal is None:
            raise CaseworkRefused(CaseworkRefused.NOT_OPEN)
        if casework.contested_decider_id(ticket) == staff.id:
            raise CaseworkRefused(CaseworkRefused.ORIGINAL_DECIDER)
    remedies = list(dict.fromkeys(remedies))  # a remedy ticked twice (a forged form) once
    facts, measure, policy_clause = facts.strip(), measure.strip(), policy_clause.strip()
    problems = {
        **_reasons_problems(facts=facts, measure=measure, policy_clause=policy_clause),
        **_remedy_problems(ticket, remedies, fixed_in_version_id),
        **_appeal_problems(appeal, outcome, appeal_result),
    }
    if language not in SUPPORTED_LOCALES:
        problems["language"] = DecisionRefused.UNKNOWN_LANGUAGE
    if problems:
        raise DecisionRefused(problems)

    if ticket.status is Status.NEW:
        casework.change_status(ticket, Status.TRIAGED, staff=staff, now=now)
    if ticket.status is Status.TRIAGED:
        casework.change_status(ticket, Status.INVESTIGATING, staff=staff, now=now)
    decision = Decision(
        ticket=ticket,
        outcome=outcome,
        remedies=[remedy.value for remedy in remedies],
        remedy_details=(remedy_details or "").strip() or None,
        fixed_in_version_id=fixed_in_version_id,
        facts=facts,
        measure=measure,
        automated_means=automated_means,
        policy_clause=policy_clause,
        language=language,
        appeal_result=appeal_result,
        decided_by_id=staff.id,
        decided_at=now,
        appealable_until=None
        if appeal_result is not None
        else appeal_deadline(
            now,
            timezone=ticket.timezone,
            window=timedelta(days=current_app.config["PORTAL_APPEAL_WINDOW_DAYS"]),
        ),
    )
    db.session.add(decision)
    db.session.flush()  # its id, for the event and the appeal
    detail = {
        "decision_id": decision.id,
        "outcome": outcome.value,
        "remedies": list(decision.remedies),
        "automated_means": automated_means.value,
        # The statement of reasons, as a keyed hash in the tamper-evident audit log: an edit of
        # the decision afterwards shows, and no personal data the text may hold is written out.
        "statement_hmac": text_fingerprint(statement_text(decision)),
    }
    if appeal is not None:
        appeal.answer = decision
        detail["appeal_result"] = appeal_result.value
    casework._event(ticket, EventKind.DECIDED, staff, now, is_public=True, detail=detail)
    # Telling the reporter meets the first response if nobody had answered yet (under appeal:
    # the appeal's own); measured before the move to decided, which stops the timers.
    sla.record_public_update(ticket, now=now)
    casework.change_status(ticket, Status.DECIDED, staff=staff, now=now)
    _email_decision(ticket, decision, now=now, lost_link_url=lost_link_url)
    return decision


def statement_text(decision: Decision) -> str:
    """The decision's reasons and what it did, as one canonical text (for its fingerprint)."""
    return json.dumps(
        {
            "outcome": decision.outcome.value,
            "remedies": list(decision.remedies),
            "remedy_details": decision.remedy_details,
            "fixed_in_version_id": decision.fixed_in_version_id,
            "facts": decision.facts,
            "measure": decision.measure,
            "automated_means": decision.automated_means.value,
            "policy_clause": decision.policy_clause,
            "language": decision.language,
            "appeal_result": decision.appeal_result.value if decision.appeal_result else None,
            "decided_by_id": decision.decided_by_id,
        },
        sort_keys=True,
        ensure_ascii=False,
    )


def _reasons_problems(*, facts: str, measure: str, policy_clause: str) -> dict[str, str]:
    problems = {}
    if not facts:
        problems["facts"] = DecisionRefused.NO_FACTS
    if not measure:
        problems["measure"] = DecisionRefused.NO_MEASURE
    if not policy_clause:
        problems["policy_clause"] = DecisionRefused.NO_POLICY_CLAUSE
    return problems


def _remedy_problems(
    ticket: Ticket, remedies: list[Remedy], fixed_in_version_id: int | None
) -> dict[str, str]:
    """At least one remedy, "None" only on its own, and the version that carries a fix in the
    model exactly when there is one (a version of the report's own model)."""
    problems = {}
    if not remedies:
        problems["remedies"] = DecisionRefused.NO_REMEDY
    elif Remedy.NONE in remedies and len(remedies) > 1:
        problems["remedies"] = DecisionRefused.NONE_WITH_OTHERS
    if Remedy.MODEL_FIXED not in remedies:
        if fixed_in_version_id is not None:
            problems["fixed_in_version_id"] = DecisionRefused.VERSION_WITHOUT_FIX
    elif ticket.model_id is None:
        problems.setdefault("remedies", DecisionRefused.NO_MODEL)
    elif fixed_in_version_id is None:
        problems["fixed_in_version_id"] = DecisionRefused.NO_VERSION
    else:
        version = db.session.get(ModelVersion, fixed_in_version_id)
        if version is None or version.model_id != ticket.model_id:
            problems["fixed_in_version_id"] = DecisionRefused.NOT_THIS_MODEL
    return problems


def _appeal_problems(
    appeal: Appeal | None, outcome: Outcome, appeal_result: AppealResult | None
) -> dict[str, str]:
    """An answer to an appeal confirms the decision under appeal (its outcome stands) or
    reverses it (another outcome); a decision that answers no appeal does neither."""
    if appeal is None:
        return {"appeal_result": DecisionRefused.NOT_AN_APPEAL} if appeal_result else {}
    if appeal_result is None:
        return {"appeal_result": DecisionRefused.NO_APPEAL_RESULT}
    contested = appeal.decision.outcome
    if appeal_result is AppealResult.REVERSED and outcome is contested:
        return {"outcome": DecisionRefused.REVERSAL_KEEPS_OUTCOME}
    if appeal_result is AppealResult.CONFIRMED and outcome is not contested:
        return {"outcome": DecisionRefused.CONFIRMATION_CHANGES_OUTCOME}
    return {}


def current_decision(ticket: Ticket) -> Decision | None:
    """The decision in force: the latest one (an appeal's answer replaces what it answers)."""
    return db.session.scalar(
        sa.select(Decision)
        .where(Decision.ticket_id == ticket.id)
        .order_by(Decision.decided_at.desc(), Decision.id.desc())
        .limit(1)
    )


def decisions_of(ticket: Ticket) -> list[Decision]:
    """Every decision on ``ticket``, oldest first: the first one, then each appeal's answer."""
    return list(
        db.session.scalars(
            sa.select(Decision)
            .where(Decision.ticket_id == ticket.id)
            .order_by(Decision.decided_at, Decision.id)
        )
    )


def open_appeal(ticket: Ticket) -> Appeal | None:
    """The appeal under review (not answered yet), if there is one."""
    return db.session.scalar(
        sa.select(Appeal).where(Appeal.ticket_id == ticket.id, Appeal.answer_id.is_(None))
    )


def appealable_until(decision: Decision, *, window: timedelta) -> datetime | None:
    """Until when the reporter may appeal ``decision`` here; None for the answer to an appeal,
    which ends the appeal here (the route outside the portal stays open).

    The deadline fixed when the decision was taken, as the reporter was told it: a window
    configured shorter later does not take days from them. ``window`` serves decisions taken
    before deadlines were stored."""
    if decision.appeal_result is not None:
        return None
    if decision.appealable_until is not None:
        return decision.appealable_until
    return decision.decided_at + window


def appeal_deadline(decided_at: datetime, *, timezone: str, window: timedelta) -> datetime:
    """The end of the reporter's own day ``window`` after the day they were told of the
    decision: "six months from the day the decision was notified", in their time zone, so a
    change of clocks on the way does not move it by an hour."""
    zone = ZoneInfo(valid_timezone(timezone) or "UTC")
    last_day = decided_at.astimezone(zone).date() + window
    return datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)


def _email_decision(
    ticket: Ticket, decision: Decision, *, now: datetime, lost_link_url: casework.UrlBuilder
) -> None:
    """The decision by e-mail, in the reporter's language: the fixed parts translated, what
    staff wrote as they wrote it, introduced by the language they wrote it in."""
    config = current_app.config
    casework.email_reporter(
        ticket,
        "decision",
        now=now,
        decision=decision,
        written_in=language_name(decision.language, in_locale=ticket.locale),
        appeal_until=appealable_until(
            decision, window=timedelta(days=config["PORTAL_APPEAL_WINDOW_DAYS"])
        ),
        outside_redress=config["PORTAL_OUTSIDE_REDRESS"],
        lost_link_url=lost_link_url(),
    )
