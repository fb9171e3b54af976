"""Routing: which team a new ticket goes to, by the first routing rule that matches it."""

import sqlalchemy as sa

from portal.extensions import db
from portal.models import Actor, EventKind, Ticket, TicketEvent
from portal.models.routing import RoutingRule


def active_rules() -> list[RoutingRule]:
    return list(
        db.session.scalars(
            sa.select(RoutingRule)
            .where(RoutingRule.is_active.is_(True))
            .order_by(RoutingRule.position)
        )
    )


def route(ticket: Ticket, *, now) -> RoutingRule | None:
    """Give ``ticket`` the team of the first matching rule; its history says which rule.

    With no matching rule the ticket stays without a team (and the history says so), for an
    administrator to notice and route by hand. Adds an internal event; the caller commits.
    """
    rule = next((rule for rule in active_rules() if rule.matches(ticket)), None)
    ticket.team = rule.team if rule else None
    ticket.events.append(
        TicketEvent(
            kind=EventKind.ROUTED,
            actor=Actor.SYSTEM,
            is_public=False,
            body=(
                f"Rule {rule.position} “{rule.name}” → {rule.team.name}"
                if rule
                else "No routing rule matched"
            ),
            created_at=now,
        )
    )
    return rule
