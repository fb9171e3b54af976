"""The migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from portal.extensions import db


def test_models_and_migrations_agree(app, database_url):
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)

    assert differences == [], f"run `flask db migrate`: {differences}"


def test_the_database_admits_every_value_of_every_enumeration(app):
    """Autogenerate cannot see a value added to an enumeration: a migration must widen the
    check constraint by hand. This fails when one was forgotten."""
    missing = []
    with app.app_context():
        inspector = sa.inspect(db.engine)
        for table in db.metadata.sorted_tables:
            checks = {
                check["name"]: check["sqltext"]
                for check in inspector.get_check_constraints(table.name)
            }
            for column in table.columns:
                if not isinstance(column.type, sa.Enum) or not column.type.create_constraint:
                    continue
                text = checks.get(column.type.name, "")
                missing += [
                    f"{table.name}.{column.name}: {value}"
                    for value in column.type.enums
                    if f"'{value}'" not in text
                ]

    assert missing == []
