"""Personal API tokens: how analysts read feedback through the API (portal/views/api.py).

A token is ``rdx_`` followed by 256 random bits. It is shown once, when it is made; the database
keeps only its SHA-256 hash (a long random secret needs no slow hash: nobody can guess one to
test against it) and its first characters after ``rdx_``, to tell tokens apart in a list. A
token reads exports and nothing else (``scope``); it stops working the moment it is revoked, or
its owner is disabled or no longer an analyst or administrator.

The functions add and flush; the caller commits.
"""

import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from portal.access import ANALYSTS
from portal.extensions import db
from portal.models import StaffUser
from portal.models.feedback import ApiToken
from portal.services import audit
from portal.services.errors import DomainError
from portal.services.tokens import sha256_hex

TOKEN_PREFIX = "rdx_"
READ_EXPORTS = "exports:read"
# How much of the secret the list shows (48 bits: enough to tell tokens apart, not to use one).
SHOWN_CHARACTERS = 8
# secrets.token_urlsafe(32): 43 characters. Anything else is refused before it is hashed.
SECRET_LENGTH = len(TOKEN_PREFIX) + 43
NAME_LENGTH = 100
# "Last used" is for people deciding which token to revoke; to the minute is plenty, and it
# spares a write on nearly every request.
LAST_USED_PRECISION = timedelta(minutes=1)


class InvalidTokenName(DomainError):
    """A token's name is empty or longer than ``NAME_LENGTH`` characters."""


def create_token(user: StaffUser, name: str, *, now: datetime) -> tuple[ApiToken, str]:
    """A new token for ``user``, and its secret: show the secret once, it is not kept.

    Raises ``InvalidTokenName``. Adds an audit entry (ids only: the name is the user's text).
    """
    name = name.strip()
    if not name or len(name) > NAME_LENGTH:
        raise InvalidTokenName(name)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user=user,
        name=name,
        token_hash=sha256_hex(secret),
        prefix=secret[len(TOKEN_PREFIX) :][:SHOWN_CHARACTERS],
        scope=READ_EXPORTS,
        created_at=now,
    )
    db.session.add(token)
    db.session.flush()
    audit.append_by_staff(
        "api_token.created",
        staff_id=user.id,
        object_type="api_token",
        object_id=token.id,
        now=now,
        secret_key=current_app.config["SECRET_KEY"],
        scope=token.scope,
    )
    return token, secret


def revoke(token: ApiToken, *, now: datetime, by: StaffUser | None = None) -> None:
    """Revoke ``token`` (by its owner unless ``by`` says who): it is refused from now on.

    Revoking a revoked token changes nothing and adds no audit entry.
    """
    if token.revoked_at is not None:
        return
    token.revoked_at = now
    db.session.flush()
    audit.append_by_staff(
        "api_token.revoked",
        staff_id=(by or token.user).id,
        object_type="api_token",
        object_id=token.id,
        now=now,
        secret_key=current_app.config["SECRET_KEY"],
        owner_id=token.user_id,
    )


def authenticate(secret: str, *, now: datetime) -> ApiToken | None:
    """The token whose secret this is, if it may read exports now; else None.

    The lookup is by the secret's hash, so its timing tells nothing about the secret. Refused:
    unknown and revoked tokens, tokens of another scope, and tokens whose owner is disabled or
    holds neither the analyst nor the administrator role any more. Records the use (to the
    minute) and flushes; the caller commits.
    """
    if len(secret) != SECRET_LENGTH or not secret.startswith(TOKEN_PREFIX):
        return None
    token_hash = sha256_hex(secret)
    token = db.session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == token_hash))
    if token is None:
        return None
    if token.revoked_at is not None or token.scope != READ_EXPORTS:
        return None
    if not token.user.is_active or not token.user.has_any_role(ANALYSTS):
        return None
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_PRECISION:
        token.last_used_at = now
        db.session.flush()
    return token


def tokens_of(user: StaffUser) -> list[ApiToken]:
    """``user``'s tokens, revoked ones included, newest first."""
    return list(
        db.session.scalars(
            sa.select(ApiToken)
            .where(ApiToken.user_id == user.id)
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
        )
    )
