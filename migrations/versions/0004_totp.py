"""staff accounts: a TOTP second factor

Revision ID: 0004_totp
Revises: 0003_staff_accounts
Create Date: 2026-11-28

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004_totp'
down_revision = '0003_staff_accounts'
branch_labels = None
depends_on = None


def upgrade():
    # Both columns start empty: administrators set up the second factor at their next sign-in.
    # Adding nullable columns needs no table rebuild on SQLite (which the foreign key from
    # staff_roles would refuse once accounts hold roles).
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('totp_secret_encrypted', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('totp_last_step', sa.BigInteger(), nullable=True))


def downgrade():
    # SQLite (3.35 and later) drops these columns in place: rebuilding the table instead, as
    # batch mode would, is refused by the foreign key from staff_roles.
    with op.batch_alter_table('staff_users', schema=None, recreate='never') as batch_op:
        batch_op.drop_column('totp_last_step')
        batch_op.drop_column('totp_secret_encrypted')
