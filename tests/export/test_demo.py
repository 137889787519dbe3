"""`billbridge demo`, which `make run` runs: it must work and tell the story."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from billbridge.demo import run_demo


def test_demo_exports_the_sample_provider(tmp_path: Path) -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, color_system=None)
    assert run_demo(console, tmp_path) == 0
    text = buffer.getvalue()
    assert "linked 11 organizations" in text
    assert "run 1: 12 reports" in text and "  created 44, updated 0" in text
    assert "endDate 2026-09-30 -> 2027-09-30" in text  # Northwind's renewal
    assert "run 3: 24 reports" in text and "  created 0, updated 0, unchanged" in text  # once
    # November's invoice, pulled from Microsoft (the emulator) and exported when due.
    assert "invoice G019283746 of 2026-12-08: imported, 25 rows\n  14 reports: 14 new" in text
    assert "run 4: 18 reports" in text and "  created 15, updated 0" in text
    assert "0 invoices to pull" in text
    assert "17 contracts, 48 charges" in text
    assert "bb-2026-10-cohowinery (Coho Winery): skipped (unmapped)" in text
    assert "bb-2026-10-fourthcoffee (Fourth Coffee): skipped (inactive)" in text
