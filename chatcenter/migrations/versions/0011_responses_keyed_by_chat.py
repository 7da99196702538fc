"""Responses keep one foreign key, the chat's

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07

Every stored answer writes a responses row, and PostgreSQL checked three foreign keys per
row: three quarters of that insert's time, and with it the largest part of the PostgreSQL
ingest regression after 0006. The chat's key is the one that matters: deleting a chat (or
its seller) still deletes its responses, and messages are only ever deleted with their chat.
"""
from alembic import op
import sqlalchemy as sa

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# PostgreSQL's names for the keys 0006 created.
DROPPED = ("responses_seller_id_fkey", "responses_message_id_fkey")


def _responses(*keys) -> sa.Table:
    """responses as 0006 made it, with only the given foreign keys (SQLite's table copy)."""
    references = {"chat_id": "chats.id", "seller_id": "sellers.id", "message_id": "messages.id"}
    columns = [sa.Column(name, sa.Integer(), *([sa.ForeignKey(references[name], ondelete="CASCADE")]
                                               if name in keys else []), nullable=False)
               for name in ("chat_id", "seller_id", "message_id")]
    return sa.Table(
        "responses", sa.MetaData(),
        sa.Column("id", sa.Integer(), primary_key=True), *columns,
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("urgency", sa.String(10), nullable=True),
        sa.UniqueConstraint("message_id", name="uq_responses_message"),
        sa.Index("ix_responses_answered", "answered_at"),
    )


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        for name in DROPPED:
            op.drop_constraint(name, "responses", type_="foreignkey")
        return
    # SQLite cannot drop a constraint: the table is copied without them.
    with op.batch_alter_table("responses", copy_from=_responses("chat_id"), recreate="always"):
        pass


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.create_foreign_key(DROPPED[0], "responses", "sellers", ["seller_id"], ["id"], ondelete="CASCADE")
        op.create_foreign_key(DROPPED[1], "responses", "messages", ["message_id"], ["id"], ondelete="CASCADE")
        return
    with op.batch_alter_table("responses", copy_from=_responses("chat_id", "seller_id", "message_id"),
                              recreate="always"):
        pass
