"""Sites and security: key rotation and IP allowlists, server-side login sessions.

Revision ID: 0003
Revises: 0002
Create Date: 2025-01-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable columns: SQLite's ALTER TABLE ADD COLUMN handles these without a table copy.
    op.add_column("interlink_keys", sa.Column("previous_secret_hash", sa.String(128), nullable=True))
    op.add_column(
        "interlink_keys",
        sa.Column("previous_secret_expires_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column("interlink_keys", sa.Column("allowed_networks", sa.JSON(), nullable=True))
    op.create_table(
        "interlink_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=80), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["interlink_users.id"],
            name="fk_interlink_sessions_user_id_interlink_users",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_interlink_sessions"),
        sa.UniqueConstraint("token_hash", name="uq_interlink_sessions_token_hash"),
    )
    op.create_index("ix_interlink_sessions_user_id", "interlink_sessions", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_interlink_sessions_user_id", table_name="interlink_sessions")
    op.drop_table("interlink_sessions")
    with op.batch_alter_table("interlink_keys") as batch:
        batch.drop_column("allowed_networks")
        batch.drop_column("previous_secret_expires_at")
        batch.drop_column("previous_secret_hash")
