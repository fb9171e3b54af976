"""audit log: hash-chained entries, their head row, and append-only triggers

Revision ID: 0002_audit_log
Revises: 785331d50f1f
Create Date: 2026-11-27

The triggers are written out here on purpose (migrations do not import application code). On
SQLite, a later ``batch_alter_table`` on ``audit_entries`` rebuilds the table and loses its
triggers: such a migration must create them again.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002_audit_log'
down_revision = '785331d50f1f'
branch_labels = None
depends_on = None

GENESIS_HASH = '0' * 64

SQLITE_TRIGGERS = {
    'audit_entries_no_update': """
        CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
        BEGIN
            SELECT RAISE(ABORT, 'audit_entries is append-only');
        END
    """,
    'audit_entries_no_delete': """
        CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
        BEGIN
            SELECT RAISE(ABORT, 'audit_entries is append-only');
        END
    """,
}

POSTGRESQL_FUNCTION = """
    CREATE FUNCTION audit_entries_refuse_change() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION USING MESSAGE = 'audit_entries is append-only (' || TG_OP || ' refused)';
    END
    $$
"""
POSTGRESQL_TRIGGERS = {
    'audit_entries_no_update_or_delete': """
        CREATE TRIGGER audit_entries_no_update_or_delete
        BEFORE UPDATE OR DELETE ON audit_entries
        FOR EACH ROW EXECUTE FUNCTION audit_entries_refuse_change()
    """,
    'audit_entries_no_truncate': """
        CREATE TRIGGER audit_entries_no_truncate
        BEFORE TRUNCATE ON audit_entries
        FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_refuse_change()
    """,
}


def upgrade():
    op.create_table('audit_entries',
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_type', sa.Enum('reporter', 'staff', 'system', name='ck_audit_entries_actor_type', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('actor_id', sa.String(length=64), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('object_type', sa.String(length=64), nullable=False),
    sa.Column('object_id', sa.String(length=64), nullable=True),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('entry_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_audit_entries'))
    )
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.create_index('ix_audit_entries_actor', ['actor_id', 'seq'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_entries_created_at'), ['created_at'], unique=False)
        batch_op.create_index('ix_audit_entries_object', ['object_type', 'object_id', 'seq'], unique=False)

    audit_head = op.create_table('audit_head',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('entry_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_head'))
    )
    op.bulk_insert(audit_head, [{'id': 1, 'seq': 0, 'entry_hash': GENESIS_HASH}])

    if op.get_context().dialect.name == 'postgresql':
        op.execute(POSTGRESQL_FUNCTION)
        for sql in POSTGRESQL_TRIGGERS.values():
            op.execute(sql)
    else:
        for sql in SQLITE_TRIGGERS.values():
            op.execute(sql)


def downgrade():
    if op.get_context().dialect.name == 'postgresql':
        for name in POSTGRESQL_TRIGGERS:
            op.execute(f'DROP TRIGGER {name} ON audit_entries')
        op.execute('DROP FUNCTION audit_entries_refuse_change()')
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f'DROP TRIGGER {name}')

    op.drop_table('audit_head')
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entries_object')
        batch_op.drop_index(batch_op.f('ix_audit_entries_created_at'))
        batch_op.drop_index('ix_audit_entries_actor')

    op.drop_table('audit_entries')
