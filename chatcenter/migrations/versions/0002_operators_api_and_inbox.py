"""replies, API keys, operators; inbox columns on chats; messages unique per chat

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29

Data-safe: every new chat column is filled from the rows already stored, and the
global uniqueness of WB event ids is replaced by a per-chat one (which the existing
rows satisfy, since globally unique values are unique within each chat too).
"""
from alembic import op
import sqlalchemy as sa

import chatcenter.models

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UTC = chatcenter.models.UTCDateTime(timezone=True)


def _messages_unique_name() -> str:
    # PostgreSQL named the unnamed constraint of 0001 itself; SQLite gets it through the
    # naming convention below (batch mode reflects the table and applies it).
    return "messages_wb_event_id_key" if op.get_bind().dialect.name == "postgresql" else "uq_messages_wb_event_id"


def upgrade():
    with op.batch_alter_table("sellers") as batch:
        batch.add_column(sa.Column("chats_refreshed_at", UTC, nullable=True))
        batch.add_column(sa.Column("set_aside_events", sa.Integer(), nullable=False, server_default="0"))

    with op.batch_alter_table("chats") as batch:
        batch.add_column(sa.Column("last_message_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("waiting_since", UTC, nullable=True))
        batch.add_column(sa.Column("analysis_due", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("latest_analysis_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("sentiment", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("category", sa.String(length=30), nullable=True))
        batch.add_column(sa.Column("urgency", sa.String(length=10), nullable=True))
        batch.add_column(sa.Column("priority", sa.SmallInteger(), nullable=False, server_default="1"))
        batch.create_index("ix_chats_analysis_due", ["analysis_due"], unique=False)
        batch.create_index("ix_chats_activity", ["last_message_at", "id"], unique=False)
        batch.create_index("ix_chats_seller_activity", ["seller_id", "last_message_at", "id"], unique=False)
        batch.create_index("ix_chats_queue", ["awaiting_reply", "priority", "waiting_since", "id"], unique=False)
        batch.create_index("ix_chats_awaiting_activity", ["awaiting_reply", "last_message_at", "id"], unique=False)
        for column in ("sentiment", "category", "urgency"):
            batch.create_index(f"ix_chats_{column}_activity", [column, "last_message_at", "id"], unique=False)

    with op.batch_alter_table(
        "messages", naming_convention={"uq": "uq_%(table_name)s_%(column_0_name)s"}
    ) as batch:
        batch.drop_constraint(_messages_unique_name(), type_="unique")
        batch.create_unique_constraint("uq_messages_chat_event", ["chat_id", "wb_event_id"])
        # A chat's messages newest first, ties by id: the index gives that order as it is.
        batch.drop_index("ix_messages_chat_sent")
        batch.create_index("ix_messages_chat_sent", ["chat_id", "sent_at", "id"], unique=False)

    with op.batch_alter_table("analyses") as batch:
        batch.drop_index("ix_analyses_chat_id")
        batch.create_index("ix_analyses_chat", ["chat_id", "id"], unique=False)

    op.create_table(
        "replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("requested_by", sa.String(length=50), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("sent_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(["chat_id"], ["chats.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("requested_by", "idempotency_key", name="uq_replies_idempotency"),
    )
    op.create_index("ix_replies_chat", "replies", ["chat_id", "id"], unique=False)
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("last_used_at", UTC, nullable=True),
        sa.Column("revoked_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_hash"),
    )
    op.create_table(
        "operators",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("last_login_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
    )
    _backfill_chats()


def _backfill_chats():
    """Fill the copied columns of existing chats from their messages and analyses."""
    op.execute("""
        UPDATE chats SET last_message_id = (
            SELECT m.id FROM messages m WHERE m.chat_id = chats.id
            ORDER BY m.sent_at DESC, m.id DESC LIMIT 1)
    """)
    op.execute("""
        UPDATE chats SET latest_analysis_id = (
            SELECT max(a.id) FROM analyses a WHERE a.chat_id = chats.id)
    """)
    op.execute("""
        UPDATE chats SET
          sentiment = (SELECT a.sentiment FROM analyses a WHERE a.id = chats.latest_analysis_id),
          category = (SELECT a.category FROM analyses a WHERE a.id = chats.latest_analysis_id),
          urgency = (SELECT a.urgency FROM analyses a WHERE a.id = chats.latest_analysis_id)
    """)
    op.execute("UPDATE chats SET priority = CASE urgency WHEN 'high' THEN 0 WHEN 'low' THEN 2 ELSE 1 END")
    # Chats always have an activity time (their creation, before any message), so keyset
    # pagination never meets a NULL.
    op.execute("UPDATE chats SET last_message_at = created_at WHERE last_message_at IS NULL")
    with op.batch_alter_table("chats") as batch:
        batch.alter_column("last_message_at", existing_type=UTC, nullable=False)
    # Waiting since the first buyer message after the newest seller message.
    op.execute("""
        UPDATE chats SET waiting_since = (
            SELECT min(m.sent_at) FROM messages m
            WHERE m.chat_id = chats.id AND m.sender = 'client' AND m.sent_at >= COALESCE(
                (SELECT max(s.sent_at) FROM messages s WHERE s.chat_id = chats.id AND s.sender = 'seller'),
                m.sent_at))
        WHERE awaiting_reply
    """)
    op.execute("""
        UPDATE chats SET analysis_due = EXISTS (
            SELECT 1 FROM messages m WHERE m.chat_id = chats.id AND m.sender = 'client'
            AND m.id > COALESCE((SELECT a.last_message_id FROM analyses a
                                 WHERE a.id = chats.latest_analysis_id), 0))
    """)


def downgrade():
    op.drop_table("operators")
    op.drop_table("api_keys")
    op.drop_index("ix_replies_chat", table_name="replies")
    op.drop_table("replies")
    with op.batch_alter_table("analyses") as batch:
        batch.drop_index("ix_analyses_chat")
        batch.create_index("ix_analyses_chat_id", ["chat_id"], unique=False)
    with op.batch_alter_table("messages") as batch:
        batch.drop_index("ix_messages_chat_sent")
        batch.create_index("ix_messages_chat_sent", ["chat_id", "sent_at"], unique=False)
        batch.drop_constraint("uq_messages_chat_event", type_="unique")
        batch.create_unique_constraint(_messages_unique_name(), ["wb_event_id"])
    with op.batch_alter_table("chats") as batch:
        batch.alter_column("last_message_at", existing_type=UTC, nullable=True)
        for index in ("ix_chats_urgency_activity", "ix_chats_category_activity", "ix_chats_sentiment_activity",
                      "ix_chats_awaiting_activity", "ix_chats_queue", "ix_chats_seller_activity", "ix_chats_activity", "ix_chats_analysis_due"):
            batch.drop_index(index)
        for column in ("priority", "urgency", "category", "sentiment", "latest_analysis_id", "analysis_due",
                       "waiting_since", "last_message_id"):
            batch.drop_column(column)
    with op.batch_alter_table("sellers") as batch:
        batch.drop_column("set_aside_events")
        batch.drop_column("chats_refreshed_at")
