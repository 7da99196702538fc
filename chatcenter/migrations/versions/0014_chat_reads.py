"""Unread chats per operator: what each has seen, and each chat's newest buyer message

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07

A chat is unread for an operator while its newest buyer message is past the newest message
they saw when they last opened it (chat_reads), and past their read floor (the newest
message when they first opened the inbox: set then, so an upgrade does not make the whole
history unread). The chats' newest buyer message is filled from the stored messages.
"""
from alembic import op
import sqlalchemy as sa

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("chats") as batch:
        batch.add_column(sa.Column("last_buyer_message_id", sa.Integer(), nullable=True))
    op.execute("UPDATE chats SET last_buyer_message_id = "
               "(SELECT max(m.id) FROM messages m WHERE m.chat_id = chats.id AND m.sender = 'client')")
    op.create_index("ix_chats_last_buyer_message", "chats", ["last_buyer_message_id"])
    with op.batch_alter_table("operators") as batch:
        batch.add_column(sa.Column("read_floor_message_id", sa.Integer(), nullable=True))
    op.create_table(
        "chat_reads",
        sa.Column("operator_id", sa.Integer(), sa.ForeignKey("operators.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("chat_id", sa.Integer(), sa.ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("last_seen_message_id", sa.Integer(), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table("chat_reads")
    with op.batch_alter_table("operators") as batch:
        batch.drop_column("read_floor_message_id")
    op.drop_index("ix_chats_last_buyer_message", "chats")
    with op.batch_alter_table("chats") as batch:
        batch.drop_column("last_buyer_message_id")
