"""The second factor: six-digit time-based codes (TOTP, RFC 6238) from an authenticator app.

The shared secret is a credential: it is stored encrypted (Fernet, with a key derived from
``SECRET_KEY`` for this purpose alone), never logged, and shown only on the set-up page. Rotating
``SECRET_KEY`` therefore makes every stored secret unreadable: those accounts must set up their
app again (their codes are refused until then, and a warning is logged).

A code is accepted once: the account keeps the time step of the last code accepted, and a code
whose step is not later is refused as replayed. The check and the update are one conditional
UPDATE, so two requests racing with the same code cannot both succeed.
"""

import base64
import logging
from datetime import datetime

import pyotp
import segno
import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken

from portal.extensions import db
from portal.models.enums import Role
from portal.models.registry import StaffUser
from portal.services.accounts import end_sessions
from portal.services.audit import derive_key
from portal.services.errors import DomainError

# One step either side of the server's: the phone's clock may be a little off, or the code may
# have changed while it was being typed.
VALID_WINDOW = 1

_ENCRYPTION_PURPOSE = "redress.totp.secret"

log = logging.getLogger(__name__)


class CodeRefused(DomainError):
    """A code was not accepted; ``reason`` goes into the audit log."""

    reason = "refused"


class WrongCode(CodeRefused):
    reason = "wrong_code"


class ReplayedCode(CodeRefused):
    """The code was right, but it (or a later one) has been used already."""

    reason = "replayed_code"


def is_required(user: StaffUser, config) -> bool:
    """True when the account may not sign in without a second factor."""
    return config["PORTAL_TOTP_REQUIRED_FOR_ADMINS"] and Role.ADMIN in user.roles


def new_secret() -> str:
    """A fresh 160-bit secret in base32, from the operating system's random source."""
    return pyotp.random_base32()


def _fernet(secret_key: str | bytes) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(derive_key(secret_key, _ENCRYPTION_PURPOSE)))


def encrypt_secret(secret: str, secret_key: str | bytes) -> str:
    return _fernet(secret_key).encrypt(secret.encode()).decode()


def decrypt_secret(token: str, secret_key: str | bytes) -> str:
    """The secret inside ``token``. Raises ``cryptography.fernet.InvalidToken`` if it was not
    made with this key (or was altered)."""
    return _fernet(secret_key).decrypt(token.encode()).decode()


def provisioning_uri(secret: str, *, email: str, issuer: str) -> str:
    """The ``otpauth://`` address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=issuer)


def qr_code_data_uri(uri: str) -> str:
    """An SVG QR code as a ``data:`` URI, for an ``<img>`` (the CSP allows ``data:`` images, and
    the secret never appears in a URL that could be logged)."""
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=4, dark="#0b0c0c", light="#fff")


def _matching_step(secret: str, code: str, now: datetime) -> int:
    try:
        return pyotp.TOTP(secret).verify_and_get_timecode(
            code, for_time=now, valid_window=VALID_WINDOW
        )
    except pyotp.OTPVerificationError:
        raise WrongCode from None


def verify(user: StaffUser, code: str, *, now: datetime, secret_key: str | bytes) -> None:
    """Accept ``code`` for an account whose second factor is set up, or raise.

    Raises :class:`WrongCode` for a code that does not match (or a secret that cannot be
    decrypted), :class:`ReplayedCode` for a step no later than the last accepted one. On success
    the step is recorded (flushed, not committed): the caller commits.
    """
    try:
        secret = decrypt_secret(user.totp_secret_encrypted, secret_key)
    except InvalidToken:
        log.warning(
            "the second-factor secret of staff account %s cannot be decrypted; was SECRET_KEY "
            "changed? The account must set up its authenticator app again.",
            user.id,
        )
        raise WrongCode from None
    step = _matching_step(secret, code, now)
    accepted = db.session.execute(
        sa.update(StaffUser)
        .where(
            StaffUser.id == user.id,
            sa.or_(StaffUser.totp_last_step.is_(None), StaffUser.totp_last_step < step),
        )
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(user, ["totp_last_step"])
    if accepted.rowcount != 1:
        raise ReplayedCode


def enrol(
    user: StaffUser, secret: str, code: str, *, now: datetime, secret_key: str | bytes
) -> None:
    """Turn the second factor on with ``secret``, once ``code`` proves the app has it.

    Raises :class:`WrongCode`. Ends the account's other sessions (they were opened without the
    second factor): the caller signs the current one in again. Flushes; the caller commits.
    """
    step = _matching_step(secret, code, now)
    user.totp_secret_encrypted = encrypt_secret(secret, secret_key)
    user.totp_last_step = step
    end_sessions(user)
    db.session.flush()


def remove(user: StaffUser) -> None:
    """Forget the account's second factor (a lost phone) and end its sessions.

    An administrator is asked to set a new one up at their next sign-in.
    """
    user.totp_secret_encrypted = None
    user.totp_last_step = None
    end_sessions(user)
