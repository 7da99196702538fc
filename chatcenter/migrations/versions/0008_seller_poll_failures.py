"""Sellers record their failing polls: what failed and since when

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07

The poller writes them when a seller's polls keep failing (WB unreachable, 5xx, token
refused) and clears them at the first good poll; the sellers page and the inbox banner
show them. Nothing stored changes.
"""
from alembic import op
import sqlalchemy as sa

from chatcenter.models import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("sellers") as batch:
        batch.add_column(sa.Column("poll_error", sa.Text(), nullable=True))
        batch.add_column(sa.Column("poll_failing_since", UTCDateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("sellers") as batch:
        batch.drop_column("poll_failing_since")
        batch.drop_column("poll_error")
