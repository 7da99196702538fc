"""Chats' status (open, resolved, snoozed) and assignee, their recorded changes, and notes

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07

Every existing chat becomes open and unassigned (the column's default). A snoozed chat is
stored as open with a future snoozed_until (chatcenter.chat_status says why). The indexes
serve the inbox's views (tests/test_query_plans.py).
"""
from alembic import op
import sqlalchemy as sa

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

SNOOZED = sa.text("snoozed_until IS NOT NULL")
INDEXES = {
    "ix_chats_status_queue": ["status", "awaiting_reply", "priority", "waiting_since", "id"],
    "ix_chats_status_activity": ["status", "last_message_at", "id"],
    "ix_chats_assignee_queue": ["assignee_id", "status", "awaiting_reply", "priority", "waiting_since", "id"],
    "ix_chats_assignee_activity": ["assignee_id", "status", "last_message_at", "id"],
}


def upgrade():
    # Plain ADD COLUMN, not a batch copy of the table: on SQLite that copy drops the old
    # table, and with foreign keys on, dropping it deletes every chat's messages (CASCADE).
    op.add_column("chats", sa.Column("status", sa.String(10), nullable=False, server_default="open"))
    op.add_column("chats", sa.Column("snoozed_until", sa.DateTime(timezone=True), nullable=True))
    if op.get_bind().dialect.name == "sqlite":  # Alembic adds no constraint there; SQLite takes it inline
        op.execute("ALTER TABLE chats ADD COLUMN assignee_id INTEGER REFERENCES operators (id)")
    else:
        op.add_column("chats", sa.Column("assignee_id", sa.Integer(), sa.ForeignKey(
            "operators.id", name="fk_chats_assignee_id_operators"), nullable=True))
    for name, columns in INDEXES.items():
        op.create_index(name, "chats", columns)
    op.create_index("ix_chats_snoozed_activity", "chats", ["last_message_at", "id"],
                    postgresql_where=SNOOZED, sqlite_where=SNOOZED)
    op.create_table(
        "chat_changes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("chat_id", sa.Integer(), sa.ForeignKey("chats.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(50), nullable=False),
        sa.Column("assignee_id", sa.Integer(), sa.ForeignKey("operators.id", ondelete="SET NULL"), nullable=True),
        sa.Column("snoozed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_chat_changes_chat", "chat_changes", ["chat_id", "created_at", "id"])
    op.create_table(
        "chat_notes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("chat_id", sa.Integer(), sa.ForeignKey("chats.id", ondelete="CASCADE"), nullable=False),
        sa.Column("author", sa.String(50), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_chat_notes_chat", "chat_notes", ["chat_id", "created_at", "id"])


def downgrade():
    op.drop_table("chat_notes")
    op.drop_table("chat_changes")
    op.drop_index("ix_chats_snoozed_activity", "chats")
    for name in INDEXES:
        op.drop_index(name, "chats")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("fk_chats_assignee_id_operators", "chats", type_="foreignkey")
    for column in ("assignee_id", "snoozed_until", "status"):  # SQLite 3.35+ drops columns in place
        op.drop_column("chats", column)
