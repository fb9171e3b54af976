"""The SLA dashboard's last 30 days and the queue's open reports with nothing due: their indexes

Revision ID: 0013_sla_indexes
Revises: 0012_policy_scope
Create Date: 2026-11-28

For each target (the first response, the decision), the targets met by when and the targets not
met by their deadline, in partial indexes that hold just those; and the open reports with no
deadline running (waiting for the reporter, or not yet recomputed), which the queue's "next due
first" walks status by status and the dashboard counts.

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013_sla_indexes'
down_revision = '0012_policy_scope'
branch_labels = None
depends_on = None

# Literal text, as in the model and the queries that repeat it.
OPEN_NOTHING_DUE = sa.text(
    "next_due_at IS NULL AND (status = 'new' OR status = 'triaged'"
    " OR status = 'investigating' OR status = 'awaiting_reporter'"
    " OR status = 'appealed')"
)
ANSWERED = sa.text('first_response_at IS NOT NULL')
UNANSWERED = sa.text('first_response_at IS NULL')
DECIDED = sa.text('decided_at IS NOT NULL')
UNDECIDED = sa.text('decided_at IS NULL')


def upgrade():
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index('ix_tickets_queue_open_nothing_due', ['status', 'next_due_at', 'created_at', 'id'], unique=False, sqlite_where=OPEN_NOTHING_DUE, postgresql_where=OPEN_NOTHING_DUE)
        batch_op.create_index('ix_tickets_first_response_at', ['first_response_at'], unique=False, sqlite_where=ANSWERED, postgresql_where=ANSWERED)
        batch_op.create_index('ix_tickets_first_response_unmet', ['first_response_due_at'], unique=False, sqlite_where=UNANSWERED, postgresql_where=UNANSWERED)
        batch_op.create_index('ix_tickets_decided_at', ['decided_at'], unique=False, sqlite_where=DECIDED, postgresql_where=DECIDED)
        batch_op.create_index('ix_tickets_decision_unmet', ['resolve_due_at'], unique=False, sqlite_where=UNDECIDED, postgresql_where=UNDECIDED)


def downgrade():
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_decision_unmet')
        batch_op.drop_index('ix_tickets_decided_at')
        batch_op.drop_index('ix_tickets_first_response_unmet')
        batch_op.drop_index('ix_tickets_first_response_at')
        batch_op.drop_index('ix_tickets_queue_open_nothing_due')
