"""One SLA policy per scope

Revision ID: 0012_policy_scope
Revises: 0011_queue_due
Create Date: 2026-11-28

Each policy gets its scope as one text (what it applies to, "*" for "any"), under a unique key:
the scope columns themselves cannot carry one, as "any" is NULL and NULLs never collide.
Policies that already share a scope keep working: the later ones get their id in the key.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012_policy_scope'
down_revision = '0011_queue_due'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sla_policies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scope_key', sa.String(length=100), nullable=True))

    connection = op.get_bind()
    policies = sa.table(
        'sla_policies',
        sa.column('id'), sa.column('for_appeals'), sa.column('severity'),
        sa.column('category'), sa.column('team_id'), sa.column('scope_key'),
    )
    seen = set()
    for row in connection.execute(sa.select(policies).order_by(policies.c.id)):
        key = "|".join((
            "appeal" if row.for_appeals else "severity",
            row.severity or "*",
            row.category or "*",
            str(row.team_id) if row.team_id else "*",
        ))
        if key in seen:
            key = f"{key}#{row.id}"  # the older policy is the one terms_for used
        seen.add(key)
        connection.execute(
            policies.update().where(policies.c.id == row.id).values(scope_key=key)
        )

    with op.batch_alter_table('sla_policies', schema=None) as batch_op:
        batch_op.alter_column('scope_key', existing_type=sa.String(length=100), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_sla_policies_scope_key'), ['scope_key'])


def downgrade():
    with op.batch_alter_table('sla_policies', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_sla_policies_scope_key'), type_='unique')
        batch_op.drop_column('scope_key')
