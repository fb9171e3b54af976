"""Which tickets and teams a member of staff may work on: the team scoping of the access policy.

Administrators see every ticket. Agents and owners see the tickets of the teams they belong to,
and owners manage (saved replies, routing to their team, members' workload) the teams they
belong to. A ticket outside someone's scope is answered exactly like one that does not exist.
"""

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from portal.access import CASEWORK
from portal.extensions import db
from portal.models import Role, StaffUser, Team, Ticket
from portal.models.routing import TeamMembership


def is_admin(user: StaffUser) -> bool:
    return Role.ADMIN in user.roles


def team_ids(user: StaffUser) -> set[int]:
    """The teams ``user`` belongs to."""
    return set(
        db.session.scalars(
            sa.select(TeamMembership.team_id).where(TeamMembership.user_id == user.id)
        )
    )


def visible_team_ids(user: StaffUser) -> set[int] | None:
    """The teams whose tickets ``user`` may see; None means every ticket (administrators)."""
    return None if is_admin(user) else team_ids(user)


def restrict_to_visible(query: sa.Select, user: StaffUser) -> sa.Select:
    """``query`` over tickets, narrowed to those ``user`` may see."""
    teams = visible_team_ids(user)
    if teams is None:
        return query
    return query.where(Ticket.team_id.in_(teams))


def can_see_ticket(user: StaffUser, ticket: Ticket) -> bool:
    teams = visible_team_ids(user)
    return teams is None or ticket.team_id in teams


def managed_team_ids(user: StaffUser) -> set[int] | None:
    """Teams ``user`` may manage; None means all (administrators). Owners lead their teams."""
    if is_admin(user):
        return None
    return team_ids(user) if Role.OWNER in user.roles else set()


def can_manage_team(user: StaffUser, team: Team) -> bool:
    managed = managed_team_ids(user)
    return managed is None or team.id in managed


def team_members(team_id: int) -> list[StaffUser]:
    """Active members of a team who work on cases (an analyst or auditor in the team cannot
    open a case, so is never offered one), by name."""
    members = db.session.scalars(
        sa.select(StaffUser)
        .join(TeamMembership, TeamMembership.user_id == StaffUser.id)
        .where(TeamMembership.team_id == team_id, StaffUser.is_active.is_(True))
        .order_by(StaffUser.display_name, StaffUser.id)
        .options(selectinload(StaffUser.role_grants))
    )
    return [member for member in members if member.has_any_role(CASEWORK)]
