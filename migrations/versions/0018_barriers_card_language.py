"""Reports of a barrier to using the portal; each export's language

Revision ID: 0018_barriers_card_language
Revises: 0017_feedback_exports
Create Date: 2026-11-28

A ticket's kind, and a routing rule's, may now be "accessibility_barrier". Downgrading refuses
while such tickets or rules exist (the constraint would fail): close and delete them first.
Each feedback export keeps the language it was asked for in, which its dataset card is written
in; exports made before this release get English, which is what their cards are in.

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018_barriers_card_language'
down_revision = '0017_feedback_exports'
branch_labels = None
depends_on = None

KINDS = ("harm_report", "output_dispute")
CHECKS = (("tickets", "ck_tickets_kind"), ("routing_rules", "ck_routing_rules_kind"))


def upgrade():
    _replace_kind_checks(KINDS + ("accessibility_barrier",))
    with op.batch_alter_table('feedback_exports', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('locale', sa.String(length=16), server_default='en', nullable=False)
        )


def downgrade():
    with op.batch_alter_table('feedback_exports', schema=None) as batch_op:
        batch_op.drop_column('locale')
    _replace_kind_checks(KINDS)


def _replace_kind_checks(kinds):
    values = ", ".join(f"'{kind}'" for kind in kinds)
    for table, check in CHECKS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(check, type_='check')
            batch_op.create_check_constraint(check, sa.text(f"kind IN ({values})"))
