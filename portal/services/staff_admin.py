"""Administration of the workspace: staff accounts with their teams and languages, teams, and
teams' saved replies (service levels and team calendars: portal/services/sla_admin.py).

Each function changes only what it is given, flushes, and returns what changed as
:class:`Change` records (an audit action and a payload of ids and values, never names or
addresses) for the caller to append to the audit log before it commits once. Who may do what
is decided by the views (portal/views/admin.py); rules that hold whoever acts, such as an
administrator not locking themselves out, are here.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from argon2 import PasswordHasher

from portal.access import CASEWORK
from portal.extensions import db
from portal.models import Role, SavedReply, StaffUser, Team
from portal.models.routing import StaffLanguage, TeamMembership
from portal.services import accounts, scope
from portal.services.assignment import LEFT_TEAM, NO_LONGER_CASEWORK, release_tickets
from portal.services.errors import DomainError


class AdminRefused(DomainError):
    """An administrative change that cannot be made; ``reason`` is one of the codes below,
    which the views turn into a message on the field concerned."""

    EMAIL_TAKEN = "email_taken"
    SLUG_TAKEN = "slug_taken"
    TITLE_TAKEN = "title_taken"
    SCOPE_TAKEN = "scope_taken"  # a service-level policy for exactly the same reports
    OWN_ADMIN_ROLE = "own_admin_role"  # an administrator removing their own administrator role
    OWN_ACCOUNT_DISABLED = "own_account_disabled"  # ... or disabling their own account

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Change:
    """One audit entry to be: ``action`` on the object, with ``payload``."""

    action: str
    payload: dict = field(default_factory=dict)


# -- staff accounts -----------------------------------------------------------------------------


def _role_values(roles: Iterable[Role]) -> list[str]:
    return sorted(Role(role).value for role in roles)


def languages_of(user: StaffUser) -> set[str]:
    return set(
        db.session.scalars(sa.select(StaffLanguage.locale).where(StaffLanguage.user_id == user.id))
    )


def create_staff(
    *,
    email: str,
    display_name: str,
    password: str,
    roles: Iterable[Role],
    team_ids: Iterable[int],
    languages: Iterable[str],
    hasher: PasswordHasher,
) -> tuple[StaffUser, Change]:
    """A new account with its teams and languages. Raises ``AdminRefused(EMAIL_TAKEN)``."""
    if accounts.find_user(email) is not None:
        raise AdminRefused(AdminRefused.EMAIL_TAKEN)
    user = accounts.create_user(email, display_name, password, roles, hasher=hasher)
    team_ids, languages = sorted(set(team_ids)), sorted(set(languages))
    db.session.add_all(TeamMembership(team_id=team_id, user_id=user.id) for team_id in team_ids)
    db.session.add_all(StaffLanguage(user_id=user.id, locale=code) for code in languages)
    db.session.flush()
    return user, Change(
        "staff.account_created",
        {"roles": _role_values(user.roles), "team_ids": team_ids, "languages": languages},
    )


def update_staff(
    user: StaffUser,
    *,
    actor: StaffUser,
    display_name: str,
    roles: Iterable[Role],
    team_ids: Iterable[int],
    languages: Iterable[str],
    active: bool,
    now: datetime,
) -> list[Change]:
    """Set an account's name, roles, teams, languages and whether it may sign in.

    Nobody removes their own administrator role or disables their own account here (raises
    ``AdminRefused``; nothing changes), so the workspace always keeps the administrator who is
    using it. Gaining a role ends the account's sessions; disabling ends them and hands its
    open tickets back to their teams' queues; leaving a team hands back that team's tickets.
    """
    roles = set(roles)
    if user.id == actor.id and Role.ADMIN in user.roles and Role.ADMIN not in roles:
        raise AdminRefused(AdminRefused.OWN_ADMIN_ROLE)
    if user.id == actor.id and not active:
        raise AdminRefused(AdminRefused.OWN_ACCOUNT_DISABLED)
    changes = []
    details = {}
    if display_name.strip() != user.display_name:
        user.display_name = display_name.strip()
        details["display_name_changed"] = True
    if roles != user.roles:
        previous = _role_values(user.roles)
        accounts.set_roles(user, roles)
        payload = {"from": previous, "to": _role_values(roles)}
        if not user.has_any_role(CASEWORK):
            # They can no longer open a case: their reports go back to their teams' queues.
            released = release_tickets(user, now=now, reason=NO_LONGER_CASEWORK)
            payload["tickets_returned"] = len(released)
        changes.append(Change("staff.roles_changed", payload))
    added, removed, returned = _set_memberships(user, set(team_ids), now=now)
    if added or removed:
        details.update(teams_added=added, teams_removed=removed, tickets_returned=returned)
    if set(languages) != languages_of(user):
        _set_languages(user, set(languages))
        details["languages"] = sorted(set(languages))
    if details:
        changes.insert(0, Change("staff.updated", details))
    if active and not user.is_active:
        accounts.enable(user)
        changes.append(Change("staff.account_enabled"))
    elif not active and user.is_active:
        tickets = accounts.disable(user, now=now)
        changes.append(Change("staff.account_disabled", {"tickets_returned": len(tickets)}))
    db.session.flush()
    return changes


def _set_memberships(
    user: StaffUser, wanted: set[int], *, now: datetime
) -> tuple[list[int], list[int], int]:
    """Make ``user`` a member of exactly the teams ``wanted``: (added, removed, tickets handed
    back from the teams left)."""
    current = scope.team_ids(user)
    returned = sum(_leave(user, team_id, now=now) for team_id in sorted(current - wanted))
    db.session.add_all(
        TeamMembership(team_id=team_id, user_id=user.id) for team_id in sorted(wanted - current)
    )
    return sorted(wanted - current), sorted(current - wanted), returned


def _leave(user: StaffUser, team_id: int, *, now: datetime) -> int:
    """End a membership; the team's tickets the member held go back to its queue (counted)."""
    returned = release_tickets(user, now=now, reason=LEFT_TEAM, team_id=team_id)
    db.session.delete(db.session.get(TeamMembership, {"team_id": team_id, "user_id": user.id}))
    return len(returned)


def _set_languages(user: StaffUser, wanted: set[str]) -> None:
    current = languages_of(user)
    for code in current - wanted:
        db.session.delete(db.session.get(StaffLanguage, {"user_id": user.id, "locale": code}))
    db.session.add_all(StaffLanguage(user_id=user.id, locale=code) for code in wanted - current)


# -- teams --------------------------------------------------------------------------------------


def all_members(team: Team) -> list[StaffUser]:
    """Every member of the team, disabled accounts included, by name."""
    return list(
        db.session.scalars(
            sa.select(StaffUser)
            .join(TeamMembership, TeamMembership.user_id == StaffUser.id)
            .where(TeamMembership.team_id == team.id)
            .order_by(StaffUser.display_name, StaffUser.id)
        )
    )


def create_team(
    *,
    slug: str,
    name: str,
    timezone: str,
    auto_assign: bool,
    member_ids: Iterable[int] = (),
) -> tuple[Team, Change]:
    """A new team. Raises ``AdminRefused(SLUG_TAKEN)``."""
    slug = slug.strip()
    if db.session.scalar(sa.select(Team.id).where(Team.slug == slug)) is not None:
        raise AdminRefused(AdminRefused.SLUG_TAKEN)
    team = Team(slug=slug, name=name.strip(), timezone=timezone, auto_assign=auto_assign)
    db.session.add(team)
    db.session.flush()
    member_ids = sorted(set(member_ids))
    db.session.add_all(TeamMembership(team_id=team.id, user_id=user_id) for user_id in member_ids)
    db.session.flush()
    return team, Change(
        "team.created",
        {
            "slug": slug,
            "timezone": timezone,
            "auto_assign": auto_assign,
            "members": member_ids,
        },
    )


def _settings(team: Team, *, auto_assign: bool) -> dict:
    details = {}
    if auto_assign != team.auto_assign:
        team.auto_assign = details["auto_assign"] = auto_assign
    return details


def update_team_settings(team: Team, *, auto_assign: bool) -> list[Change]:
    """What a team's owners may change here: its auto-assignment. (Its time zone is part of
    its calendar: ``portal.services.sla_admin.set_team_calendar``.)"""
    details = _settings(team, auto_assign=auto_assign)
    db.session.flush()
    return [Change("team.updated", details)] if details else []


def update_team(
    team: Team,
    *,
    name: str,
    auto_assign: bool,
    member_ids: Iterable[int],
    now: datetime,
) -> list[Change]:
    """Everything an administrator may change about a team here (its slug stays: the command
    line and the routing history name teams by it; its calendar has a page of its own).
    Members who leave hand back the team's tickets they held."""
    changes = []
    details = _settings(team, auto_assign=auto_assign)
    if name.strip() != team.name:
        team.name = name.strip()
        details["name_changed"] = True
    if details:
        changes.append(Change("team.updated", details))
    wanted = set(member_ids)
    current = {user.id: user for user in all_members(team)}
    removed = sorted(current.keys() - wanted)
    added = sorted(wanted - current.keys())
    returned = sum(_leave(current[user_id], team.id, now=now) for user_id in removed)
    db.session.add_all(TeamMembership(team_id=team.id, user_id=user_id) for user_id in added)
    if added or removed:
        changes.append(
            Change(
                "team.members_changed",
                {"added": added, "removed": removed, "tickets_returned": returned},
            )
        )
    db.session.flush()
    return changes


# -- saved replies ------------------------------------------------------------------------------


def saved_replies(team: Team) -> list[SavedReply]:
    return list(
        db.session.scalars(
            sa.select(SavedReply)
            .where(SavedReply.team_id == team.id)
            .order_by(SavedReply.locale, SavedReply.title, SavedReply.id)
        )
    )


def _check_title_free(team_id: int, locale: str, title: str, *, except_id=None) -> None:
    query = sa.select(SavedReply.id).where(
        SavedReply.team_id == team_id, SavedReply.locale == locale, SavedReply.title == title
    )
    if except_id is not None:
        query = query.where(SavedReply.id != except_id)
    if db.session.scalar(query) is not None:
        raise AdminRefused(AdminRefused.TITLE_TAKEN)


def create_saved_reply(
    team: Team, *, locale: str, title: str, body: str, now: datetime
) -> tuple[SavedReply, Change]:
    """Raises ``AdminRefused(TITLE_TAKEN)`` for a title the team already uses in ``locale``."""
    title = title.strip()
    _check_title_free(team.id, locale, title)
    reply = SavedReply(team=team, locale=locale, title=title, body=body, updated_at=now)
    db.session.add(reply)
    db.session.flush()
    return reply, Change("saved_reply.created", {"team_id": team.id, "locale": locale})


def update_saved_reply(
    reply: SavedReply, *, locale: str, title: str, body: str, now: datetime
) -> list[Change]:
    """Raises ``AdminRefused(TITLE_TAKEN)``; the reply keeps its team."""
    title = title.strip()
    _check_title_free(reply.team_id, locale, title, except_id=reply.id)
    changed = [
        name
        for name, value in (("locale", locale), ("title", title), ("body", body))
        if getattr(reply, name) != value
    ]
    if not changed:
        return []
    reply.locale, reply.title, reply.body, reply.updated_at = locale, title, body, now
    db.session.flush()
    return [
        Change(
            "saved_reply.updated", {"team_id": reply.team_id, "locale": locale, "changed": changed}
        )
    ]


def delete_saved_reply(reply: SavedReply) -> Change:
    change = Change("saved_reply.deleted", {"team_id": reply.team_id, "locale": reply.locale})
    db.session.delete(reply)
    db.session.flush()
    return change
