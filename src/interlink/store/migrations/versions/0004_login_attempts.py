"""Failed-login counts shared by every worker process (the server's FailureLimiter).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "interlink_login_attempts",
        sa.Column("bucket", sa.String(length=64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("ends_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", name="pk_interlink_login_attempts"),
    )
    op.create_index("ix_interlink_login_attempts_ends_at_ms", "interlink_login_attempts", ["ends_at_ms"])


def downgrade() -> None:
    op.drop_index("ix_interlink_login_attempts_ends_at_ms", table_name="interlink_login_attempts")
    op.drop_table("interlink_login_attempts")
