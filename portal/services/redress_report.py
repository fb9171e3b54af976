"""What became of the decisions in the last 30 days, for the staff dashboard: the outcomes, the
appeals answered and how many reversed the decision, and the reporters' answers to the
follow-up question ("Did this resolve your concern?").

Counted for the teams the viewer manages (None: every team and the reports no team owns), spam
left out. Two grouped queries, each a range of an index on the decisions bounded by the window
(``ix_decisions_decided_at``, ``ix_decisions_follow_up_answered_at``), whatever the number of
decisions before it.
"""

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from portal.extensions import db
from portal.models import AppealResult, Decision, FollowUpAnswer, Outcome, Ticket
from portal.services.sla_report import WINDOW


@dataclass(frozen=True)
class RedressFigures:
    # Decisions taken in the window, first decisions and answers to appeals alike, by outcome.
    outcomes: Counter = field(default_factory=Counter)
    # Answers to appeals given in the window, by result.
    appeal_results: Counter = field(default_factory=Counter)
    # Follow-up answers given in the window, whenever the decision was taken.
    follow_up: Counter = field(default_factory=Counter)

    @property
    def decided(self) -> int:
        return sum(self.outcomes.values())

    @property
    def appeals_answered(self) -> int:
        return sum(self.appeal_results.values())

    @property
    def follow_up_answered(self) -> int:
        return sum(self.follow_up.values())


def _scoped(query: sa.Select, team_ids: set[int] | None) -> sa.Select:
    query = query.join(Ticket, Ticket.id == Decision.ticket_id).where(Ticket.is_spam.is_(False))
    if team_ids is not None:
        query = query.where(Ticket.team_id.in_(sorted(team_ids)))
    return query


def figures_for(team_ids: set[int] | None, *, now: datetime) -> RedressFigures:
    since = now - WINDOW
    decided = db.session.execute(
        _scoped(
            sa.select(Decision.outcome, Decision.appeal_result, sa.func.count()),
            team_ids,
        )
        .where(Decision.decided_at > since, Decision.decided_at <= now)
        .group_by(Decision.outcome, Decision.appeal_result)
    ).all()
    answered = db.session.execute(
        _scoped(sa.select(Decision.follow_up_answer, sa.func.count()), team_ids)
        .where(
            Decision.follow_up_answered_at.is_not(None),
            Decision.follow_up_answered_at > since,
            Decision.follow_up_answered_at <= now,
        )
        .group_by(Decision.follow_up_answer)
    ).all()
    outcomes, appeal_results = Counter(), Counter()
    for outcome, appeal_result, count in decided:
        outcomes[Outcome(outcome)] += count
        if appeal_result is not None:
            appeal_results[AppealResult(appeal_result)] += count
    follow_up = Counter({FollowUpAnswer(answer): count for answer, count in answered})
    return RedressFigures(outcomes=outcomes, appeal_results=appeal_results, follow_up=follow_up)
