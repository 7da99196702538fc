"""When a reply's latest request left for WB, and how many did

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07

A reply whose WB answer was lost is `unconfirmed` and settled against WB's event feed read
from the moment it was sent (chatcenter.replies). Existing rows: never attempted (NULL, 0);
a reply left `sending` by the old code is settled the same way from its creation time.
A partial index holds the replies not settled yet, which the poller looks up every round.
"""
from alembic import op
import sqlalchemy as sa

import chatcenter.models

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

UTC = chatcenter.models.UTCDateTime(timezone=True)


OPEN_REPLY = sa.text("state IN ('queued', 'sending', 'unconfirmed')")


def upgrade():
    with op.batch_alter_table("replies") as batch:
        batch.add_column(sa.Column("attempted_at", UTC, nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
    op.create_index("ix_replies_open", "replies", ["id"], unique=False,
                    postgresql_where=OPEN_REPLY, sqlite_where=OPEN_REPLY)


def downgrade():
    op.drop_index("ix_replies_open", table_name="replies")
    with op.batch_alter_table("replies") as batch:
        batch.drop_column("attempts")
        batch.drop_column("attempted_at")
