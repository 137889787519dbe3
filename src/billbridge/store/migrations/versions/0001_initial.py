"""organizations, price list, report revisions

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-24 02:18:02.853509
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organizations",
        sa.Column("organization_id", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("domain", sa.String(length=500), nullable=True),
        sa.Column("autotask_company_id", sa.BigInteger(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("organization_id", name=op.f("pk_organizations")),
    )
    op.create_table(
        "price_list_items",
        sa.Column("sku", sa.String(length=500), nullable=False),
        sa.Column("product_name", sa.String(length=500), nullable=False),
        sa.Column("subscription_type", sa.String(length=20), nullable=False),
        sa.Column("unit_cost", sa.String(length=64), nullable=False),
        sa.Column("unit_price", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("billing_frequency", sa.String(length=20), nullable=True),
        sa.Column("term", sa.String(length=10), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sku", name=op.f("pk_price_list_items")),
    )
    op.create_table(
        "reports",
        sa.Column("report_id", sa.String(length=500), nullable=False),
        sa.Column("organization_id", sa.String(length=200), nullable=False),
        sa.Column("current_revision", sa.Integer(), nullable=False),
        sa.Column("generated_on", sa.Date(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("report_id", name=op.f("pk_reports")),
    )
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reports_generated_on"), ["generated_on"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_reports_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "report_revisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("report_id", sa.String(length=500), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.String(length=200), nullable=False),
        sa.Column("generated_on", sa.Date(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"], ["reports.report_id"], name=op.f("fk_report_revisions_report_id_reports")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_revisions")),
        sa.UniqueConstraint("report_id", "revision", name=op.f("uq_report_revisions_report_id")),
    )
    op.create_table(
        "report_lines",
        sa.Column("revision_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.String(length=500), nullable=False),
        sa.Column("subscription_type", sa.String(length=20), nullable=False),
        sa.Column("sku", sa.String(length=500), nullable=False),
        sa.Column("product_name", sa.String(length=500), nullable=False),
        sa.Column("quantity", sa.String(length=64), nullable=False),
        sa.Column("unit_cost", sa.String(length=64), nullable=False),
        sa.Column("unit_price", sa.String(length=64), nullable=False),
        sa.Column("subscription_start", sa.Date(), nullable=True),
        sa.Column("subscription_end", sa.Date(), nullable=True),
        sa.Column("charge_start", sa.Date(), nullable=True),
        sa.Column("charge_end", sa.Date(), nullable=True),
        sa.Column("usage_quantity", sa.String(length=64), nullable=True),
        sa.Column("usage_unit", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["revision_id"],
            ["report_revisions.id"],
            name=op.f("fk_report_lines_revision_id_report_revisions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("revision_id", "position", name=op.f("pk_report_lines")),
    )


def downgrade() -> None:
    op.drop_table("report_lines")
    op.drop_table("report_revisions")
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reports_organization_id"))
        batch_op.drop_index(batch_op.f("ix_reports_generated_on"))

    op.drop_table("reports")
    op.drop_table("price_list_items")
    op.drop_table("organizations")
