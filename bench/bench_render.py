"""How long the CLI takes to print an export: a RunResult of N organizations rendered
in-process, by default and with --verbose, piped and on a (colour) terminal.

    .venv/bin/python bench/bench_render.py [N...]

Each figure is the median of 5 renders into memory at 80 columns.
"""

from __future__ import annotations

import io
import statistics
import sys
import time

from rich.console import Console

from billbridge.export.results import OperationResult, ReportResult, RunResult
from billbridge.render import run_result


def synthetic_run(organizations: int) -> RunResult:
    """A first export: per organization a product, a contract, a charge and an update; one in
    fifty organizations is unlinked, so the problems have something to say."""
    reports = []
    for i in range(organizations):
        sub = f"6a1f2c3e-{i:04d}-4c1e-9a7e-222222222222"
        product = {"name": "Microsoft 365 Business Basic", "unitCost": "5.40", "unitPrice": "6.00"}
        contract = {
            "contractName": "M365 Basic",
            "startDate": "2026-06-01",
            "endDate": "2027-05-31",
        }
        charge = {"unitQuantity": "15", "unitPrice": "6.00", "unitCost": "5.40"}
        operations = (
            OperationResult(
                "create", "Product", f"CFQ7TTC0LH18:{i:04d}", 1 + i, product, state="done"
            ),
            OperationResult("create", "Contract", sub, 10_000 + i, contract, state="done"),
            OperationResult(
                "create", "ContractCharge", f"{sub}/2026-09", 20_000 + i, charge, state="done"
            ),
            OperationResult(
                "update",
                "ContractCharge",
                f"{sub}/2026-08",
                30_000 + i,
                {"unitQuantity": {"from": "14", "to": "15"}},
                state="done",
            ),
        )
        linked = i % 50 != 0
        reports.append(
            ReportResult(
                f"bb-2026-09-customer-{i:04d}",
                f"org-{i:04d}",
                "exported" if linked else "skipped",
                None if linked else "unmapped",
                operations if linked else (),
                () if linked else ("organization is not linked to an Autotask company",),
                f"Customer {i} Ltd",
            )
        )
    return RunResult(1, tuple(reports), requests=organizations * 5)


def median_ms(result: RunResult, *, terminal: bool, verbose: bool) -> tuple[float, int]:
    times, lines = [], 0
    for _ in range(5):
        console = Console(file=io.StringIO(), width=80, force_terminal=terminal, soft_wrap=True)
        started = time.perf_counter()
        run_result(console, result, planned=False, verbose=verbose)
        times.append(time.perf_counter() - started)
        assert isinstance(console.file, io.StringIO)
        lines = console.file.getvalue().count("\n")
    return statistics.median(times) * 1000, lines


def main(sizes: list[int]) -> None:
    for organizations in sizes:
        result = synthetic_run(organizations)
        for terminal in (False, True):
            for verbose in (False, True):
                ms, lines = median_ms(result, terminal=terminal, verbose=verbose)
                where = "terminal" if terminal else "piped"
                what = "--verbose" if verbose else "default"
                size = f"{organizations:>5} organizations"
                print(f"{size} {where:<8} {what:<9} {ms:8.1f} ms {lines:>6} lines")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [100, 400])
