"""Links that leave the portal in e-mails: absolute addresses, and signed links for one purpose.

A signed link names a ticket and the version of its tracking link, signed with the app's secret
for one purpose (the follow-up question, confirming an erasure) and valid for a limited time.
Nothing is stored: a new tracking link (or an erasure) bumps the version and so kills every
signed link sent before it. Whoever holds one may follow the report, as with the tracking link
itself: it goes only to the address the reporter gave, which can ask for a new tracking link
anyway.
"""

from datetime import timedelta
from enum import StrEnum

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

from portal.models import Ticket


class LinkPurpose(StrEnum):
    FOLLOW_UP = "follow-up"
    ERASURE = "erasure"


def portal_url(path: str) -> str:
    """The absolute address of ``path`` (which starts with a slash), for e-mails written by the
    clock as well as by requests: built on ``PORTAL_BASE_URL``, never on a request's host."""
    return current_app.config["PORTAL_BASE_URL"].rstrip("/") + path


def _serializer(purpose: LinkPurpose) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"redress-{purpose}")


def signed_token(purpose: LinkPurpose, ticket: Ticket) -> str:
    return _serializer(purpose).dumps([ticket.id, ticket.tracking_version])


def signed_ticket(
    purpose: LinkPurpose, token: str, *, max_age: timedelta
) -> tuple[int, int] | None:
    """The (ticket id, tracking version) a token was signed for, or None when it is forged,
    damaged, made for another purpose or older than ``max_age``. The caller still checks that
    the version is the ticket's current one."""
    try:
        ticket_id, version = _serializer(purpose).loads(token, max_age=int(max_age.total_seconds()))
    except (BadSignature, ValueError, TypeError):
        return None
    if not isinstance(ticket_id, int) or not isinstance(version, int):
        return None
    return ticket_id, version
