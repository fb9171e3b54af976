"""Column types shared by the models."""

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """An aware UTC datetime on every database.

    PostgreSQL keeps ``timestamptz``; SQLite keeps no zone at all, so values are stored as UTC and
    given their zone back when read. Naive datetimes are refused rather than guessed at.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def enum_column_type(enum_class, check_name: str) -> sa.Enum:
    """Store an enum's values as short strings, guarded by a check constraint.

    ``check_name`` names that constraint; it must be unique in its table (two columns of one
    enum would otherwise both get the enum's name, which PostgreSQL refuses).
    """
    return sa.Enum(
        enum_class,
        name=check_name,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


# Ids are 64-bit integers at most; beyond that SQLite's driver raises OverflowError, so any id
# read from a URL or a form is checked against this first.
MAX_DATABASE_ID = 2**63 - 1
