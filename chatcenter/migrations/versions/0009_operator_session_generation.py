"""Operators' session generation: sign-out, a new password or disabling ends sessions

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07

Each inbox session cookie carries the generation it was signed in under; the session check
on every request (which reads the operator's row anyway) refuses an older one. Existing
operators start at 0; cookies from before this revision carry none and sign in again once.
"""
from alembic import op
import sqlalchemy as sa

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("operators") as batch:
        batch.add_column(sa.Column("session_generation", sa.Integer(), nullable=False, server_default="0"))


def downgrade():
    with op.batch_alter_table("operators") as batch:
        batch.drop_column("session_generation")
