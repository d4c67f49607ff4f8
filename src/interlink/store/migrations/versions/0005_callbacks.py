"""Callbacks and webhooks: the outbox, every delivery attempt, webhook endpoints, signing secrets.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "interlink_callback_secrets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("signer", sa.String(length=100), nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.Column("previous_secret_encrypted", sa.Text(), nullable=True),
        sa.Column("previous_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_interlink_callback_secrets"),
        sa.UniqueConstraint("signer", name="uq_interlink_callback_secrets_signer"),
    )
    op.create_table(
        "interlink_webhook_endpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("api_id", sa.String(length=40), nullable=False),
        sa.Column("role_api_id", sa.String(length=40), nullable=True),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.Column("previous_secret_encrypted", sa.Text(), nullable=True),
        sa.Column("previous_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.String(length=500), nullable=False),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_interlink_webhook_endpoints"),
        sa.UniqueConstraint("api_id", name="uq_interlink_webhook_endpoints_api_id"),
    )
    op.create_index("ix_interlink_webhook_endpoints_role_api_id", "interlink_webhook_endpoints", ["role_api_id"])
    op.create_table(
        "interlink_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("api_id", sa.String(length=40), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("event", sa.String(length=200), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("signer", sa.String(length=100), nullable=True),
        sa.Column("endpoint_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["endpoint_id"], ["interlink_webhook_endpoints.id"],
            name="fk_interlink_outbox_endpoint_id_interlink_webhook_endpoints", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_interlink_outbox"),
        sa.UniqueConstraint("api_id", name="uq_interlink_outbox_api_id"),
    )
    op.create_index("ix_interlink_outbox_due", "interlink_outbox", ["state", "next_attempt_at"])
    op.create_index("ix_interlink_outbox_message_id", "interlink_outbox", ["message_id"])
    op.create_index("ix_interlink_outbox_endpoint_id", "interlink_outbox", ["endpoint_id"])
    op.create_table(
        "interlink_delivery_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=False),
        sa.Column("response_excerpt", sa.String(length=500), nullable=False),
        sa.Column("worker", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["outbox_id"], ["interlink_outbox.id"],
            name="fk_interlink_delivery_attempts_outbox_id_interlink_outbox", ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_interlink_delivery_attempts"),
    )
    op.create_index("ix_interlink_delivery_attempts_outbox_id", "interlink_delivery_attempts", ["outbox_id"])


def downgrade() -> None:
    op.drop_index("ix_interlink_delivery_attempts_outbox_id", table_name="interlink_delivery_attempts")
    op.drop_table("interlink_delivery_attempts")
    op.drop_index("ix_interlink_outbox_endpoint_id", table_name="interlink_outbox")
    op.drop_index("ix_interlink_outbox_message_id", table_name="interlink_outbox")
    op.drop_index("ix_interlink_outbox_due", table_name="interlink_outbox")
    op.drop_table("interlink_outbox")
    op.drop_index("ix_interlink_webhook_endpoints_role_api_id", table_name="interlink_webhook_endpoints")
    op.drop_table("interlink_webhook_endpoints")
    op.drop_table("interlink_callback_secrets")
