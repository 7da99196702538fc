"""WB events set aside by the sync (kind and digest only)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29

A new table only: nothing stored changes. sellers.set_aside_events (0002) keeps the count.
"""
from alembic import op
import sqlalchemy as sa

import chatcenter.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UTC = chatcenter.models.UTCDateTime(timezone=True)


def upgrade():
    op.create_table(
        "set_aside_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seller_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("wb_event_id", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(["seller_id"], ["sellers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("seller_id", "digest", name="uq_set_aside_events_seller_digest"),
    )


def downgrade():
    op.drop_table("set_aside_events")
