"""Users, roles and keys.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import SchemaItem

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# users.default_role_id and roles.user_id point at each other. SQLite cannot add a foreign
# key to an existing table (and checks references only when rows change), so there it is
# declared inline; elsewhere it is added once both tables exist.
_DEFAULT_ROLE_FK_NAME = "fk_interlink_users_default_role_id_interlink_roles"


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    user_extra: list[SchemaItem] = []
    if sqlite:
        user_extra.append(
            sa.ForeignKeyConstraint(
                ["default_role_id"],
                ["interlink_roles.id"],
                name=_DEFAULT_ROLE_FK_NAME,
                ondelete="SET NULL",
            )
        )
    op.create_table(
        "interlink_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("api_id", sa.String(length=40), nullable=False),
        sa.Column("username", sa.String(length=150), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("default_role_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_interlink_users"),
        sa.UniqueConstraint("api_id", name="uq_interlink_users_api_id"),
        sa.UniqueConstraint("username", name="uq_interlink_users_username"),
        *user_extra,
    )
    op.create_table(
        "interlink_roles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("api_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("permissions", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["interlink_users.id"],
            name="fk_interlink_roles_user_id_interlink_users",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_interlink_roles"),
        sa.UniqueConstraint("api_id", name="uq_interlink_roles_api_id"),
        sa.UniqueConstraint("user_id", "name", name="uq_interlink_roles_user_id_name"),
    )
    op.create_index("ix_interlink_roles_user_id", "interlink_roles", ["user_id"])
    if not sqlite:
        op.create_foreign_key(
            _DEFAULT_ROLE_FK_NAME,
            "interlink_users",
            "interlink_roles",
            ["default_role_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.create_table(
        "interlink_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=40), nullable=False),
        sa.Column("role_id", sa.Integer(), nullable=False),
        sa.Column("secret_hash", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["role_id"],
            ["interlink_roles.id"],
            name="fk_interlink_keys_role_id_interlink_roles",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_interlink_keys"),
        sa.UniqueConstraint("key_id", name="uq_interlink_keys_key_id"),
    )
    op.create_index("ix_interlink_keys_role_id", "interlink_keys", ["role_id"])


def downgrade() -> None:
    op.drop_index("ix_interlink_keys_role_id", table_name="interlink_keys")
    op.drop_table("interlink_keys")
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(_DEFAULT_ROLE_FK_NAME, "interlink_users", type_="foreignkey")
    op.drop_index("ix_interlink_roles_user_id", table_name="interlink_roles")
    op.drop_table("interlink_roles")
    op.drop_table("interlink_users")
