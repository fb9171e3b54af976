"""Staff accounts: passwords, sign-in checks, roles, and ending sessions.

Passwords are hashed with Argon2id (argon2-cffi). The cost is configuration, so that tests run
cheap parameters while deployments keep the recommended ones, and a hash made with older, cheaper
parameters is upgraded on the next successful sign-in.
"""

import secrets
from collections.abc import Iterable
from datetime import datetime
from functools import cache

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from werkzeug.security import check_password_hash

from portal.clock import utcnow
from portal.extensions import db
from portal.models.enums import Actor, Role
from portal.models.registry import StaffRole, StaffUser
from portal.models.tickets import Ticket
from portal.services import audit
from portal.services.assignment import ACCOUNT_DISABLED, release_tickets
from portal.services.errors import DomainError

MIN_PASSWORD_LENGTH = 12
LEGACY_HASH_PREFIXES = ("scrypt:", "pbkdf2:")
MAX_PASSWORD_LENGTH = 256


class AccountError(DomainError):
    """An account operation was refused; ``message`` says why, for an operator."""


@cache
def password_hasher(time_cost: int, memory_cost: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)


def hasher_from_config(config) -> PasswordHasher:
    return password_hasher(
        config["PORTAL_ARGON2_TIME_COST"],
        config["PORTAL_ARGON2_MEMORY_COST"],
        config["PORTAL_ARGON2_PARALLELISM"],
    )


@cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    return hasher.hash(secrets.token_urlsafe(16))


def normalise_email(email: str) -> str:
    return email.strip().casefold()


def generate_password() -> str:
    """A password for a new account or a reset: 20 URL-safe characters from the OS's random
    source, shown once to whoever hands it over."""
    return secrets.token_urlsafe(15)


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"a password can have at most {MAX_PASSWORD_LENGTH} characters")


def find_user(email: str) -> StaffUser | None:
    return db.session.scalar(sa.select(StaffUser).where(StaffUser.email == normalise_email(email)))


def authenticate(email: str, password: str, *, hasher: PasswordHasher) -> StaffUser | None:
    """The active account with this e-mail and password, or None.

    An unknown address, a wrong password and a disabled account are refused alike, and each
    costs one password check (against a dummy hash when there is no account), so that neither
    the answer nor its timing tells them apart. A hash made with older parameters is replaced.
    """
    user = find_user(email)
    if user is not None and user.password_hash.startswith(LEGACY_HASH_PREFIXES):
        # Accounts made before Argon2 (werkzeug's scrypt): checked once, then upgraded below.
        if not check_password_hash(user.password_hash, password):
            return None
    else:
        try:
            hasher.verify(user.password_hash if user else _dummy_hash(hasher), password)
        except (VerificationError, InvalidHashError):
            return None
    if user is None or not user.is_active:
        return None
    if user.password_hash.startswith(LEGACY_HASH_PREFIXES) or hasher.check_needs_rehash(
        user.password_hash
    ):
        user.password_hash = hasher.hash(password)
    return user


def create_user(
    email: str, display_name: str, password: str, roles: Iterable[Role], *, hasher: PasswordHasher
) -> StaffUser:
    """Add an account. Raises :class:`AccountError` for a taken address or a weak password."""
    if find_user(email) is not None:
        raise AccountError(f"there is already an account for {normalise_email(email)}")
    check_password_policy(password)
    user = StaffUser(
        email=normalise_email(email),
        display_name=display_name.strip(),
        password_hash=hasher.hash(password),
    )
    set_roles(user, roles)
    db.session.add(user)
    db.session.flush()
    return user


def set_roles(user: StaffUser, roles: Iterable[Role]) -> None:
    """Give ``user`` exactly ``roles``. Gaining a role ends the account's sessions, so that the
    new rights (and any second factor they require) start with a fresh sign-in."""
    wanted = set(roles)
    if user.id is not None and wanted - user.roles:
        end_sessions(user)
    user.role_grants = [grant for grant in user.role_grants if grant.role in wanted]
    user.role_grants.extend(StaffRole(role=role) for role in wanted - user.roles)


def end_sessions(user: StaffUser) -> None:
    """Sign the account out everywhere: every existing session cookie stops working."""
    user.session_nonce = secrets.token_hex(16)


def set_password(user: StaffUser, password: str, *, hasher: PasswordHasher) -> None:
    check_password_policy(password)
    user.password_hash = hasher.hash(password)
    end_sessions(user)


def disable(user: StaffUser, *, now: datetime | None = None) -> list[Ticket]:
    """Stop the account signing in, end its sessions, and hand its open tickets back to their
    teams' queues (an ASSIGNED event each, from the system). Returns those tickets; the caller
    commits. ``now`` defaults to the clock's."""
    user.is_active = False
    end_sessions(user)
    return release_tickets(user, now=now or utcnow(), reason=ACCOUNT_DISABLED)


def enable(user: StaffUser) -> None:
    """Let a disabled account sign in again (with a fresh sign-in: old sessions stay ended)."""
    user.is_active = True


def load_session_user(session_user_id: str) -> StaffUser | None:
    """The account a session's user id ("<id>:<nonce>") still stands for, or None."""
    user_id, _sep, nonce = session_user_id.partition(":")
    if not user_id.isdigit() or not nonce:
        return None
    user = db.session.get(StaffUser, int(user_id))
    if user is None or not user.is_active:
        return None
    return user if secrets.compare_digest(user.session_nonce, nonce) else None


def record_staff_action(
    action: str,
    *,
    user: StaffUser | None,
    now: datetime,
    secret_key: str,
    email: str | None = None,
    **payload,
) -> None:
    """Append a staff action (sign-in, sign-out, account changes) to the audit log.

    The actor is the account's id; a sign-in attempt for no known account is recorded under a
    pseudonym of the address typed, never the address itself. The caller commits.
    """
    actor_id = f"staff:{user.id}" if user else audit.pseudonym("email", email or "", secret_key)
    audit.append(
        actor_type=Actor.STAFF,
        actor_id=actor_id,
        action=action,
        object_type="staff_account",
        object_id=str(user.id) if user else None,
        payload=payload,
        now=now,
        secret_key=secret_key,
    )
