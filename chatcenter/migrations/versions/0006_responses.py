"""First-response times: one row per seller answer to a waiting buyer

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07

The reports (median and 90th-percentile first response, share within target) read these
rows instead of pairing messages at every page view. The history is filled from the stored
messages: in each chat, a buyer message after a seller one (or the first) starts a wait,
and the next seller message ends it.
"""
from alembic import op
import sqlalchemy as sa

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# Window functions: PostgreSQL, and SQLite since 3.25.
BACKFILL = """
WITH ordered AS (
  SELECT m.chat_id, m.id, m.sender, m.sent_at,
         CASE WHEN m.sender = 'client'
              AND COALESCE(LAG(m.sender) OVER (PARTITION BY m.chat_id ORDER BY m.sent_at, m.id), 'seller') = 'seller'
              THEN 1 ELSE 0 END AS starts
  FROM messages m WHERE m.sender IN ('client', 'seller')
), spells AS (
  SELECT chat_id, id, sender, sent_at,
         SUM(starts) OVER (PARTITION BY chat_id ORDER BY sent_at, id ROWS UNBOUNDED PRECEDING) AS spell
  FROM ordered
), ranked AS (
  SELECT chat_id, id, sender, sent_at, spell,
         ROW_NUMBER() OVER (PARTITION BY chat_id, spell, sender ORDER BY sent_at, id) AS nth
  FROM spells WHERE spell > 0
)
SELECT r.chat_id, c.seller_id, c.urgency,
       MIN(CASE WHEN r.sender = 'client' AND r.nth = 1 THEN r.sent_at END) AS asked_at,
       MIN(CASE WHEN r.sender = 'seller' AND r.nth = 1 THEN r.sent_at END) AS answered_at,
       MIN(CASE WHEN r.sender = 'seller' AND r.nth = 1 THEN r.id END) AS message_id
FROM ranked r JOIN chats c ON c.id = r.chat_id
GROUP BY r.chat_id, c.seller_id, c.urgency, r.spell
HAVING MIN(CASE WHEN r.sender = 'seller' AND r.nth = 1 THEN r.id END) IS NOT NULL
"""


def upgrade():
    responses = op.create_table(
        "responses",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("chat_id", sa.Integer(), sa.ForeignKey("chats.id", ondelete="CASCADE"), nullable=False),
        sa.Column("seller_id", sa.Integer(), sa.ForeignKey("sellers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("message_id", sa.Integer(), sa.ForeignKey("messages.id", ondelete="CASCADE"), nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("urgency", sa.String(10), nullable=True),
        sa.UniqueConstraint("message_id", name="uq_responses_message"),
    )
    op.create_index("ix_responses_answered", "responses", ["answered_at"])
    connection = op.get_bind()
    rows = []
    # The history's answers get the chat's urgency now: the best there is for them.
    for chat_id, seller_id, urgency, asked_at, answered_at, message_id in connection.execute(sa.text(BACKFILL)):
        asked_at, answered_at = _aware(asked_at), _aware(answered_at)
        rows.append({"chat_id": chat_id, "seller_id": seller_id, "urgency": urgency, "message_id": message_id,
                     "asked_at": asked_at,
                     "answered_at": answered_at, "seconds": max(0.0, (answered_at - asked_at).total_seconds())})
        if len(rows) == 5000:
            op.bulk_insert(responses, rows)
            rows = []
    if rows:
        op.bulk_insert(responses, rows)
    if connection.dialect.name == "postgresql":
        op.execute("ANALYZE responses")  # plan the reports on the filled table, not an empty one


def _aware(value):
    """SQLite gives the stored UTC text back; PostgreSQL an aware datetime."""
    from datetime import datetime, timezone

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def downgrade():
    op.drop_index("ix_responses_answered", table_name="responses")
    op.drop_table("responses")
