"""The one clock: every timestamp in Redress is an aware UTC datetime from here."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
