"""Search's full-text index; saved replies

Revision ID: 0012
Revises: 0014
Create Date: 2026-12-08

Search (GET /api/chats?q=) finds chats by words in buyers' names and message text: on
PostgreSQL generated tsvector columns with GIN indexes, on SQLite FTS5 tables kept by
triggers (chatcenter/search_index.py, shared with create_all). Both are filled from the rows
already stored as they are built: on PostgreSQL adding a generated column rewrites the table
(about a minute at 1M messages, the table locked meanwhile).

Saved replies: team-wide reply templates with a name and a text.
"""
from alembic import op
import sqlalchemy as sa

from chatcenter import search_index

revision = "0012"
down_revision = "0014"
branch_labels = None
depends_on = None

DROP = {
    "postgresql": ["DROP INDEX ix_chats_name_search", "ALTER TABLE chats DROP COLUMN search_name",
                   "DROP INDEX ix_messages_search", "ALTER TABLE messages DROP COLUMN search_vector"],
    "sqlite": [f"DROP TRIGGER {table}_{event}" for table in (search_index.MESSAGES_FTS, search_index.NAMES_FTS)
               for event in ("insert", "delete", "update")]
    + [f"DROP TABLE {table}" for table in (search_index.MESSAGES_FTS, search_index.NAMES_FTS)],
}


def upgrade():
    search_index.build(op.get_bind())
    op.create_table(
        "saved_replies",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("name", name="uq_saved_replies_name"),
    )


def downgrade():
    op.drop_table("saved_replies")
    for statement in DROP[op.get_bind().dialect.name]:
        op.execute(statement)
