"""Who sees which seller: operators' roles and grants; API keys limited to sellers, read-only

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-07

Existing operators become admins (they saw every seller) and existing API keys stay
unrestricted and read-write: nobody loses what they could see or do.
"""
from alembic import op
import sqlalchemy as sa

revision = "0013"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("operators") as batch:
        batch.add_column(sa.Column("role", sa.String(length=10), nullable=False, server_default="admin"))
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("all_sellers", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch.add_column(sa.Column("read_only", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "operator_sellers",
        sa.Column("operator_id", sa.Integer(), sa.ForeignKey("operators.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("seller_id", sa.Integer(), sa.ForeignKey("sellers.id", ondelete="CASCADE"), primary_key=True),
    )
    op.create_table(
        "api_key_sellers",
        sa.Column("api_key_id", sa.Integer(), sa.ForeignKey("api_keys.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("seller_id", sa.Integer(), sa.ForeignKey("sellers.id", ondelete="CASCADE"), primary_key=True),
    )


def downgrade():
    op.drop_table("api_key_sellers")
    op.drop_table("operator_sellers")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("read_only")
        batch.drop_column("all_sellers")
    with op.batch_alter_table("operators") as batch:
        batch.drop_column("role")
