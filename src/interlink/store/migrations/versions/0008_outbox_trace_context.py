"""The trace context of the call that queued an outbox message (its deliveries continue the trace).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("interlink_outbox") as batch:
        batch.add_column(sa.Column("trace_context", sa.String(length=512), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("interlink_outbox") as batch:
        batch.drop_column("trace_context")
