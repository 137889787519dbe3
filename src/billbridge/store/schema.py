"""The tables. Changing them means adding an Alembic migration under `migrations/versions/`:
a new database is created from these tables, an older one upgraded by the migrations, and
`tests/foundation/test_store.py` checks that both give the same database."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from billbridge.store.types import ExactDecimal, UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

organizations = Table(
    "organizations",
    metadata,
    Column("organization_id", String(200), primary_key=True),
    Column("name", String(500), nullable=False),
    Column("domain", String(500)),
    Column("autotask_company_id", BigInteger),
    Column("active", Boolean, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

price_list_items = Table(
    "price_list_items",
    metadata,
    Column("sku", String(500), primary_key=True),
    Column("product_name", String(500), nullable=False),
    Column("subscription_type", String(20), nullable=False),
    Column("unit_cost", ExactDecimal, nullable=False),
    Column("unit_price", ExactDecimal, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("billing_frequency", String(20)),
    Column("term", String(10)),
    Column("description", Text),
    Column("updated_at", UTCDateTime, nullable=False),
)

reports = Table(
    "reports",
    metadata,
    Column("report_id", String(500), primary_key=True),
    Column("organization_id", String(200), nullable=False, index=True),
    Column("current_revision", Integer, nullable=False),
    Column("generated_on", Date, nullable=False, index=True),
    Column("content_hash", String(64), nullable=False),
)

report_revisions = Table(
    "report_revisions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("report_id", String(500), ForeignKey("reports.report_id"), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("organization_id", String(200), nullable=False),
    Column("generated_on", Date, nullable=False),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("source", Text, nullable=False),
    Column("imported_at", UTCDateTime, nullable=False),
    UniqueConstraint("report_id", "revision"),
)

report_lines = Table(
    "report_lines",
    metadata,
    Column(
        "revision_id",
        Integer,
        ForeignKey("report_revisions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("position", Integer, primary_key=True),
    Column("subscription_id", String(500), nullable=False),
    Column("subscription_type", String(20), nullable=False),
    Column("sku", String(500), nullable=False),
    Column("product_name", String(500), nullable=False),
    Column("quantity", ExactDecimal, nullable=False),
    Column("unit_cost", ExactDecimal, nullable=False),
    Column("unit_price", ExactDecimal, nullable=False),
    Column("subscription_start", Date),
    Column("subscription_end", Date),
    Column("charge_start", Date),
    Column("charge_end", Date),
    Column("usage_quantity", ExactDecimal),
    Column("usage_unit", String(100)),
)

# -- export state: runs and their journal, what was exported, the key map cache ---------------

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("trigger", String(20), nullable=False),
    Column("today", Date),
    Column("status", String(20), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("heartbeat_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("created", Integer, nullable=False, default=0),
    Column("updated", Integer, nullable=False, default=0),
    Column("unchanged", Integer, nullable=False, default=0),
    Column("conflicts", Integer, nullable=False, default=0),
    Column("failed_reports", Integer, nullable=False, default=0),
    Column("requests", Integer, nullable=False, default=0),
    Column("error", Text),
)

run_reports = Table(
    "run_reports",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("report_id", String(500), primary_key=True),
    Column("revision", Integer, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("organization_id", String(200), nullable=False),
    Column("status", String(20), nullable=False),
    Column("reason", Text),
    Column("warnings", Text, nullable=False, default="[]"),
)

run_operations = Table(
    "run_operations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("report_id", String(500), nullable=False),
    Column("position", Integer, nullable=False),
    Column("action", String(20), nullable=False),
    Column("entity", String(30), nullable=False),
    Column("key", String(1000), nullable=False),
    Column("autotask_id", BigInteger),
    Column("changes", Text, nullable=False),
    Column("reason", Text),
    Column("state", String(20), nullable=False),
    Column("error", Text),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    Index("ix_run_operations_run_id", "run_id", "position"),
    Index("ix_run_operations_state", "state"),
)

report_exports = Table(
    "report_exports",
    metadata,
    Column("report_id", String(500), primary_key=True),
    Column("content_hash", String(64), nullable=False),
    Column("run_id", Integer, nullable=False),
    Column("exported_at", UTCDateTime, nullable=False),
)

key_map = Table(
    "key_map",
    metadata,
    Column("entity", String(30), primary_key=True),
    Column("key", String(1000), primary_key=True),
    Column("autotask_id", BigInteger, nullable=False),
    Column("report_id", String(500)),
    Column("updated_at", UTCDateTime, nullable=False),
)

# --- export engine (migration 0003) ---
installation = Table(
    "installation",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
)
# --- end export engine ---

# -- money: needs-attention items a person marked resolved (R, migration 0004) ----------------

attention_resolutions = Table(
    "attention_resolutions",
    metadata,
    Column("item_key", String(1000), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("note", Text, nullable=False),
    Column("resolved_by", String(200), nullable=False),
    Column("resolved_at", UTCDateTime, nullable=False),
)

# --- pulls from Microsoft (P) ---

pulled_invoices = Table(
    "pulled_invoices",
    metadata,
    Column("invoice_id", String(100), primary_key=True),
    Column("invoice_date", Date, nullable=False),
    Column("currency", String(10), nullable=False),
    Column("total", ExactDecimal, nullable=False),
    Column("status", String(20), nullable=False),
    Column("rows", Integer, nullable=False, default=0),
    Column("report_ids", Text, nullable=False, default="[]"),
    Column("error", Text),
    Column("pulled_at", UTCDateTime, nullable=False),
)

pull_exports = Table(
    "pull_exports",
    metadata,
    Column("invoice_id", String(100), primary_key=True),
    Column("kind", String(20), primary_key=True),
    Column("operation_url", Text),
    Column("state", String(20), nullable=False),
    Column("etag", String(200)),
    Column("rows", Integer, nullable=False, default=0),
    Column("updated_at", UTCDateTime, nullable=False),
)

# --- end pulls ---

# --- tenant metadata cache (migration 0006) ---

tenant_metadata = Table(
    "tenant_metadata",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("body", Text, nullable=False),
    Column("read_at", UTCDateTime, nullable=False),
    Column("last_operation_id", Integer, nullable=False),
)

# --- end tenant metadata cache ---
