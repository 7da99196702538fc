"""Attachments: buyers' photos and files fetched from WB once, operators' files sent with replies

Revision ID: 0015
Revises: 0012
Create Date: 2026-12-07

Rows and bytes are apart (attachments, attachment_contents): listing a thread's attachments
never reads the files. Messages stored before this keep WB's raw attachments in
messages.attachments; their files are not fetched (nothing enqueues them).
"""
from alembic import op
import sqlalchemy as sa

revision = "0015"
down_revision = "0012"
branch_labels = None
depends_on = None

OPEN = "state IN ('pending', 'moderation')"


def upgrade():
    op.create_table(
        "attachments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("chat_id", sa.Integer(), sa.ForeignKey("chats.id", ondelete="CASCADE"), nullable=False),
        sa.Column("message_id", sa.Integer(), sa.ForeignKey("messages.id", ondelete="CASCADE"), nullable=True),
        sa.Column("reply_id", sa.Integer(), sa.ForeignKey("replies.id", ondelete="CASCADE"), nullable=True),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("download_id", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("chat_id", "download_id", name="uq_attachments_chat_download"),
    )
    op.create_index("ix_attachments_message", "attachments", ["message_id", "position"])
    op.create_index("ix_attachments_reply", "attachments", ["reply_id", "position"])
    op.create_index("ix_attachments_open", "attachments", ["id"],
                    postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN))
    op.create_table(
        "attachment_contents",
        sa.Column("attachment_id", sa.Integer(), sa.ForeignKey("attachments.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("content", sa.LargeBinary(), nullable=False),
    )


def downgrade():
    op.drop_table("attachment_contents")
    op.drop_index("ix_attachments_open", table_name="attachments")
    op.drop_index("ix_attachments_reply", table_name="attachments")
    op.drop_index("ix_attachments_message", table_name="attachments")
    op.drop_table("attachments")
