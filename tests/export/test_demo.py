"""`billbridge demo`, which `make run` runs: it must work and tell the story."""

from __future__ import annotations

import io

from rich.console import Console

from billbridge.demo import run_demo


def test_demo_exports_the_sample_provider(tmp_path) -> None:  # type: ignore[no-untyped-def]
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, color_system=None)
    assert run_demo(console, tmp_path) == 0
    text = buffer.getvalue()
    assert "linked 11 organizations" in text
    assert "run 1: 12 reports" in text and "  created 44, updated 0" in text
    assert "endDate 2026-09-30 -> 2027-09-30" in text  # Northwind's renewal
    assert "run 3: 24 reports" in text and "  created 0, updated 0, unchanged" in text  # once
    assert "17 contracts, 33 charges" in text
    assert "bb-2026-10-cohowinery (Coho Winery): skipped (unmapped)" in text
    assert "bb-2026-10-fourthcoffee (Fourth Coffee): skipped (inactive)" in text
    assert "all companies           6,472.92  5,511.80  11,984.72" in text
