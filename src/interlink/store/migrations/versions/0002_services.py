"""Service records (clients for other services).

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "interlink_services",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(100), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("base_url", sa.String(1000), nullable=False),
        sa.Column("auth_type", sa.String(40), nullable=False),
        sa.Column("username", sa.String(200), nullable=False),
        sa.Column("client_id", sa.String(200), nullable=False),
        sa.Column("token_url", sa.String(1000), nullable=False),
        sa.Column("scope", sa.String(500), nullable=False),
        sa.Column("client_auth_method", sa.String(40), nullable=False),
        sa.Column("api_key_header", sa.String(100), nullable=False),
        sa.Column("api_key_query", sa.String(100), nullable=False),
        sa.Column("jwt_lifetime", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column("user_representation", sa.String(200), nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=True),
        sa.Column("client_certificate", sa.Text(), nullable=True),
        sa.Column("client_private_key_encrypted", sa.Text(), nullable=True),
        sa.Column("server_ca", sa.Text(), nullable=True),
        sa.Column("timeout", sa.Float(), nullable=True),
        sa.Column("extra_headers", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_interlink_services"),
        sa.UniqueConstraint("slug", name="uq_interlink_services_slug"),
    )


def downgrade() -> None:
    op.drop_table("interlink_services")
