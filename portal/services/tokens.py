"""References, tracking tokens and one-time form keys.

The tracking token is derived from the form's one-time key with the app's secret, so that a
retried submission (a double click, a network retry) can show the same link again without the
database ever holding the token: only SHA-256 hashes of the key and of the token are stored.
"""

import base64
import hashlib
import hmac
import secrets

# No 0/O, 1/I/L or U/V: a reference is read aloud on the phone and copied by hand.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTWXYZ"
REFERENCE_PREFIX = "RP"


def new_reference() -> str:
    """A short reference such as ``RP-7K3M-Q9P2`` (about 39 bits: unguessable in practice).

    It only names a ticket; possessing it grants nothing.
    """
    characters = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))
    return f"{REFERENCE_PREFIX}-{characters[:4]}-{characters[4:]}"


def normalise_reference(text: str) -> str | None:
    """A reference as people type it (any case, spaces, missing dashes) in its canonical form.

    None when the text cannot be a reference, so that callers need not query for it.
    """
    compact = "".join(ch for ch in text.upper() if ch.isalnum()).removeprefix(REFERENCE_PREFIX)
    if len(compact) != 8 or any(ch not in REFERENCE_ALPHABET for ch in compact):
        return None
    return f"{REFERENCE_PREFIX}-{compact[:4]}-{compact[4:]}"


def new_form_key() -> str:
    """A one-time key put in each report form: 128 random bits."""
    return secrets.token_urlsafe(16)


def new_tracking_token() -> str:
    """A fresh random tracking token (256 bits), used when a link is reissued."""
    return secrets.token_urlsafe(32)


def tracking_token_for_form(secret_key: str, form_key: str) -> str:
    """The tracking token of the report submitted with ``form_key`` (256 bits)."""
    digest = hmac.new(secret_key.encode(), b"tracking-token:" + form_key.encode(), "sha256")
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def token_matches(token: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented token with a stored hash."""
    return hmac.compare_digest(sha256_hex(token), stored_hash)
