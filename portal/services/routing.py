"""Routing: which team a new ticket goes to, by the first routing rule that matches it, and the
rules themselves (data that owners and administrators edit and put in order)."""

from dataclasses import dataclass
from enum import Enum

import sqlalchemy as sa

from portal.extensions import db
from portal.models import Actor, Category, EventKind, Severity, Team, Ticket, TicketEvent
from portal.models.enums import TicketKind
from portal.models.routing import RoutingRule
from portal.services.assignment import auto_assign

UP, DOWN = "up", "down"


@dataclass(frozen=True)
class RuleConditions:
    """What a rule matches on; None: anything."""

    kind: TicketKind | None = None
    category: Category | None = None
    model_id: int | None = None
    model_version_id: int | None = None
    locale: str | None = None
    severity: Severity | None = None

    @property
    def is_empty(self) -> bool:
        return all(value is None for value in vars(self).values())

    @classmethod
    def of(cls, rule: RoutingRule) -> "RuleConditions":
        return cls(**{name: getattr(rule, name) for name in cls.__dataclass_fields__})

    def narrows(self, before: "RuleConditions") -> bool:
        """True when every report matching ``self`` also matched ``before``: each condition
        ``before`` had is kept as it was (conditions may only be added)."""
        return all(
            getattr(before, name) is None or getattr(before, name) == getattr(self, name)
            for name in self.__dataclass_fields__
        )


def widens(rule: RoutingRule, conditions: RuleConditions, is_active: bool) -> bool:
    """Whether saving ``rule`` with these answers would send it reports it did not take before.

    A team owner may not do that: a wider rule of theirs would take reports that other teams'
    rules (below it) were meant to receive, with their reporters' data and evidence.
    """
    return (is_active and not rule.is_active) or not conditions.narrows(RuleConditions.of(rule))


def active_rules() -> list[RoutingRule]:
    return list(
        db.session.scalars(
            sa.select(RoutingRule)
            .where(RoutingRule.is_active.is_(True))
            .order_by(RoutingRule.position)
        )
    )


def all_rules() -> list[RoutingRule]:
    """Every rule, active or not, in the order they are tried."""
    return list(db.session.scalars(sa.select(RoutingRule).order_by(RoutingRule.position)))


def is_catch_all(rule: RoutingRule) -> bool:
    return RuleConditions.of(rule).is_empty


def default_rule(rules: list[RoutingRule]) -> RoutingRule | None:
    """The first active rule without conditions among ``rules`` (in order): it takes every
    ticket that reaches it, so its team is the default team and the rules after it never run."""
    return next((rule for rule in rules if rule.is_active and is_catch_all(rule)), None)


def route(ticket: Ticket, *, now) -> RoutingRule | None:
    """Give ``ticket`` the team of the first matching rule; its history says which rule. If the
    team assigns automatically, the ticket then goes to one of its members (see
    ``portal.services.assignment``).

    With no matching rule the ticket stays without a team (and the history says so), for an
    administrator to notice and route by hand. Adds internal events; the caller commits.
    """
    rule = next((rule for rule in active_rules() if rule.matches(ticket)), None)
    team = rule.team if rule else None
    ticket.team = team
    # The ticket is not flushed yet: set the column as well, for the checks that read it.
    ticket.team_id = team.id if team else None
    ticket.events.append(
        TicketEvent(
            kind=EventKind.ROUTED,
            actor=Actor.SYSTEM,
            is_public=False,
            # Facts, not English: the history words them in each reader's language.
            detail=(
                {"to": rule.team_id, "rule": rule.name, "position": rule.position}
                if rule
                else {"no_rule": True}
            ),
            created_at=now,
        )
    )
    auto_assign(ticket, now=now)
    return rule


# -- editing the rules --------------------------------------------------------------------------


def rule_values(rule: RoutingRule) -> dict:
    """A rule as ids and values, for the audit log (its free-text name left out)."""
    conditions = RuleConditions.of(rule)
    return {
        "position": rule.position,
        "team_id": rule.team_id,
        "is_active": rule.is_active,
        **{
            name: value.value if isinstance(value, Enum) else value
            for name, value in vars(conditions).items()
        },
    }


def create_rule(
    *, name: str, team: Team, is_active: bool, conditions: RuleConditions
) -> RoutingRule:
    """Add a rule just above the default rule (so that it can ever match), or at the end when
    there is no default rule. Flushes."""
    rules = all_rules()
    default = default_rule(rules)
    if default is None:
        position = rules[-1].position + 1 if rules else 1
    else:
        position = default.position
        # Make room: the default rule and those after it each move one place on, the last
        # first, so that no two rules share a position at any moment.
        for later in reversed(rules[rules.index(default) :]):
            later.position += 1
            db.session.flush()
    rule = RoutingRule(
        position=position, name=name.strip(), team=team, is_active=is_active, **vars(conditions)
    )
    db.session.add(rule)
    db.session.flush()
    return rule


def update_rule(
    rule: RoutingRule, *, name: str, team: Team, is_active: bool, conditions: RuleConditions
) -> list[str]:
    """Change the fields given; returns the names of those that changed. Flushes."""
    wanted = {"name": name.strip(), "team_id": team.id, "is_active": is_active, **vars(conditions)}
    changed = [field for field, value in wanted.items() if getattr(rule, field) != value]
    for field in changed:
        setattr(rule, field, wanted[field])
    if "team_id" in changed:
        rule.team = team
    db.session.flush()
    return changed


def neighbour(rule: RoutingRule, direction: str) -> RoutingRule | None:
    """The rule just before (``UP``) or after (``DOWN``) ``rule`` in order, or None at an end."""
    if direction == UP:
        query = sa.select(RoutingRule).where(RoutingRule.position < rule.position)
        query = query.order_by(RoutingRule.position.desc())
    else:
        query = sa.select(RoutingRule).where(RoutingRule.position > rule.position)
        query = query.order_by(RoutingRule.position)
    return db.session.scalar(query.limit(1))


def swap_positions(rule: RoutingRule, other: RoutingRule) -> None:
    """Exchange two rules' places in the order.

    Positions are unique and both databases check that row by row, so the exchange goes
    through a free position: three updates, each flushed alone. Two people moving rules at once
    collide on that free position and the second gets an IntegrityError (nothing changes).
    """
    first, second = rule.position, other.position
    lowest = db.session.scalar(sa.select(sa.func.min(RoutingRule.position)))
    rule.position = min(lowest, 0) - 1
    db.session.flush()
    other.position = first
    db.session.flush()
    rule.position = second
    db.session.flush()


def delete_rule(rule: RoutingRule) -> None:
    db.session.delete(rule)
    db.session.flush()
