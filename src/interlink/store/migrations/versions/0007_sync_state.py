"""Sync state of interlink.flows: cursor per sync, the id map, recorded issues.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "interlink_sync_states",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("cursor", sa.JSON(), nullable=True),
        sa.Column("last_counts", sa.JSON(), nullable=True),
        sa.Column("last_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_interlink_sync_states"),
    )
    op.create_table(
        "interlink_sync_links",
        sa.Column("sync", sa.String(length=200), nullable=False),
        sa.Column("source_id", sa.String(length=255), nullable=False),
        sa.Column("target_id", sa.String(length=255), nullable=True),
        sa.Column("source_hash", sa.String(length=64), nullable=True),
        sa.Column("target_hash", sa.String(length=64), nullable=True),
        sa.Column("source_version", sa.String(length=64), nullable=True),
        sa.Column("target_version", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sync", "source_id", name="pk_interlink_sync_links"),
    )
    op.create_table(
        "interlink_sync_issues",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sync", sa.String(length=200), nullable=False),
        sa.Column("source_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("resolved", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_interlink_sync_issues"),
    )
    op.create_index("ix_interlink_sync_issues_sync", "interlink_sync_issues", ["sync"])


def downgrade() -> None:
    op.drop_index("ix_interlink_sync_issues_sync", table_name="interlink_sync_issues")
    op.drop_table("interlink_sync_issues")
    op.drop_table("interlink_sync_links")
    op.drop_table("interlink_sync_states")
