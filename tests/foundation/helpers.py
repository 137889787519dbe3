"""Small builders for input files used across the foundation tests."""

from __future__ import annotations

from pathlib import Path

REPORT_HEADER = (
    "report_id,organization_id,generated_on,period_start,period_end,currency,"
    "subscription_id,subscription_type,sku,product_name,quantity,unit_cost,unit_price"
)
GOOD_LINE = (
    "r1,org-1,2026-10-06,2026-10-01,2026-10-31,USD,"
    "sub-1,csp365,CFQ7TTC0LH18:0001,Microsoft 365 Business Basic,10,5.40,6.00"
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def csv_file(tmp_path: Path, name: str, header: str, *rows: str) -> Path:
    return write(tmp_path, name, "\n".join((header, *rows)) + "\n")
