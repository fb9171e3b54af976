"""Reason templates: each team's starting points for a statement of reasons.

Owners keep them per outcome (and optionally per kind of problem) and language; an agent
deciding a report starts from one and adapts it to the case.

The functions that change templates follow portal/services/staff_admin.py: each flushes and
returns what changed as :class:`Change` records (ids and values, never the templates' text) for
the caller to append to the audit log before it commits once. Who may change a team's
templates is decided by the views.
"""

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from portal.extensions import db
from portal.models import Category, Outcome, ReasonTemplate, Team, Ticket
from portal.services.staff_admin import AdminRefused, Change


def available_for(ticket: Ticket) -> list[ReasonTemplate]:
    """The templates an agent may start from on ``ticket``: its team's, for its kind of problem
    or for any, ordered by outcome, then title."""
    if ticket.team_id is None:
        return []
    templates = list(
        db.session.scalars(
            sa.select(ReasonTemplate)
            .where(
                ReasonTemplate.team_id == ticket.team_id,
                sa.or_(
                    ReasonTemplate.category.is_(None), ReasonTemplate.category == ticket.category
                ),
            )
            .order_by(ReasonTemplate.title, ReasonTemplate.id)
        )
    )
    # The outcomes in their own order (upheld first), not the alphabetical order of the codes.
    order = list(Outcome)
    return sorted(templates, key=lambda template: order.index(template.outcome))


def by_outcome(team: Team) -> list[tuple[Outcome, list[ReasonTemplate]]]:
    """The team's templates grouped by outcome, in the order a decision offers the outcomes
    (upheld first), each group by title and language; outcomes without a template are left
    out."""
    templates = db.session.scalars(
        sa.select(ReasonTemplate)
        .where(ReasonTemplate.team_id == team.id)
        .order_by(ReasonTemplate.title, ReasonTemplate.locale, ReasonTemplate.id)
    )
    groups = {outcome: [] for outcome in Outcome}
    for template in templates:
        groups[template.outcome].append(template)
    return [(outcome, group) for outcome, group in groups.items() if group]


def _answers(outcome, category, locale, title, facts, measure, policy_clause) -> dict:
    """A template's columns as answered, the text trimmed (a text area sends trailing line
    breaks that nobody means)."""
    return {
        "outcome": outcome,
        "category": category,
        "locale": locale,
        "title": title.strip(),
        "facts": facts.strip(),
        "measure": measure.strip(),
        "policy_clause": policy_clause.strip(),
    }


def _check_title_free(team_id: int, locale: str, title: str, *, except_id=None) -> None:
    """Agents pick a template by its title: two of a team's in one language would look alike."""
    query = sa.select(ReasonTemplate.id).where(
        ReasonTemplate.team_id == team_id,
        ReasonTemplate.locale == locale,
        ReasonTemplate.title == title,
    )
    if except_id is not None:
        query = query.where(ReasonTemplate.id != except_id)
    if db.session.scalar(query) is not None:
        raise AdminRefused(AdminRefused.TITLE_TAKEN)


def _scope(template: ReasonTemplate) -> dict:
    """What an audit entry says about a template: where it applies, not what it says."""
    return {
        "team_id": template.team_id,
        "outcome": template.outcome.value,
        "category": template.category.value if template.category else None,
        "locale": template.locale,
    }


def create_template(
    team: Team,
    *,
    outcome: Outcome,
    category: Category | None,
    locale: str,
    title: str,
    facts: str,
    measure: str,
    policy_clause: str,
) -> tuple[ReasonTemplate, Change]:
    """A new template of ``team`` (``category`` None: for any kind of problem). Raises
    ``AdminRefused(TITLE_TAKEN)`` for a title the team already uses in ``locale``."""
    answers = _answers(outcome, category, locale, title, facts, measure, policy_clause)
    _check_title_free(team.id, locale, answers["title"])
    template = ReasonTemplate(team=team, **answers)
    db.session.add(template)
    _flush_template()
    return template, Change("reason_template.created", _scope(template))


def update_template(
    template: ReasonTemplate,
    *,
    outcome: Outcome,
    category: Category | None,
    locale: str,
    title: str,
    facts: str,
    measure: str,
    policy_clause: str,
) -> list[Change]:
    """Raises ``AdminRefused(TITLE_TAKEN)``; the template keeps its team. The audit entry
    names the parts that changed, not their text."""
    answers = _answers(outcome, category, locale, title, facts, measure, policy_clause)
    _check_title_free(template.team_id, locale, answers["title"], except_id=template.id)
    changed = [name for name, value in answers.items() if getattr(template, name) != value]
    if not changed:
        return []
    for name in changed:
        setattr(template, name, answers[name])
    _flush_template()
    return [Change("reason_template.updated", {**_scope(template), "changed": changed})]


def delete_template(template: ReasonTemplate) -> Change:
    """Decisions already written from it keep their text: they hold a copy, not a link."""
    change = Change("reason_template.deleted", _scope(template))
    db.session.delete(template)
    db.session.flush()
    return change


def _flush_template() -> None:
    """Write the template; a title the team's language already has (two owners saving at
    once, which the check before cannot see) meets the unique key and is refused the same way."""
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise AdminRefused(AdminRefused.TITLE_TAKEN) from None
