"""A partial index of sent replies the WB feed has not confirmed yet

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29

Every page a sync stores looks for such replies among the page's chats; without this index
that read scanned each chat's messages (about 8 ms per 1,000 events at 200,000 messages).
Nothing stored changes.
"""
from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UNCONFIRMED_REPLY = sa.text("wb_event_id LIKE 'reply:%'")


def upgrade():
    op.create_index("ix_messages_unconfirmed_replies", "messages", ["chat_id"], unique=False,
                    postgresql_where=UNCONFIRMED_REPLY, sqlite_where=UNCONFIRMED_REPLY)


def downgrade():
    op.drop_index("ix_messages_unconfirmed_replies", table_name="messages")
