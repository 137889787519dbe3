"""What `plan`, `export` and `runs` print: a summary and the problems by default, every write
on request, at 80 columns with no word cut and no id shortened, plain when piped."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

from rich.console import Console

from billbridge.export.results import OperationResult, ReportResult, RunResult
from billbridge.export.run_views import run_result_of
from billbridge.render import MAX_PROBLEMS, run_detail, run_result, runs_table, status_words
from billbridge.store.runs import OperationRecord, ReportRecord, RunDetail, RunSummary

LONG_KEY = "0d3c6a1f-2c3e-4c1e-9a7e-222222222222-with-a-very-long-azure-subscription-name/2026-09"
BOX = re.compile("[\u2500-\u257f]")


def console(*, terminal: bool = False) -> Console:
    return Console(
        file=io.StringIO(), width=80, force_terminal=terminal, highlight=False, soft_wrap=True
    )


def text_of(shown: Console) -> str:
    file = shown.file
    assert isinstance(file, io.StringIO)
    return file.getvalue()


def report(index: int, status: str = "exported", **extra: object) -> ReportResult:
    sub = f"sub-{index}"
    operations = (
        OperationResult(
            "create",
            "Contract",
            sub,
            1000 + index,
            {
                "contractName": "Microsoft 365 Business Basic",
                "startDate": "2026-06-01",
                "endDate": "2027-05-31",
            },
            state="done",
        ),
        OperationResult(
            "create",
            "ContractCharge",
            f"{sub}/2026-09",
            2000 + index,
            {"unitQuantity": "15", "unitPrice": "6.00", "unitCost": "5.40"},
            state="done",
        ),
        OperationResult("unchanged", "Product", "CFQ7TTC0LH18:0001", 7, {}),
    )
    fields: dict[str, object] = {
        "report_id": f"bb-2026-09-customer-{index:03d}",
        "organization_id": f"org-{index}",
        "status": status,
        "reason": None,
        "operations": operations if status == "exported" else (),
        "organization_name": f"Customer {index} Ltd",
    }
    fields.update(extra)
    return ReportResult(**fields)  # type: ignore[arg-type]


def many(count: int, *, skipped_every: int = 0) -> RunResult:
    reports = [
        report(i, "skipped", reason="unmapped", warnings=("organization is not linked",))
        if skipped_every and i % skipped_every == 0
        else report(i)
        for i in range(count)
    ]
    return RunResult(7, tuple(reports), requests=count * 3)


def assert_fits(text: str) -> None:
    for line in text.splitlines():
        assert len(line) <= 80 or " " not in line.strip(), line
    assert not BOX.search(text)


def test_the_default_output_is_a_summary_and_the_problems() -> None:
    shown = console()
    run_result(shown, many(400, skipped_every=10), planned=False)
    text = text_of(shown)
    assert text.startswith("run 7: 400 reports, 1200 Autotask requests\n")
    assert "  created 720, updated 0, unchanged 360, conflicts 0, failed reports 0\n" in text
    assert "  exported 360, skipped 40\n" in text
    assert "Problems (40):" in text
    flowing = " ".join(text.split())
    assert flowing.count("skipped (unmapped): organization is not linked") == MAX_PROBLEMS
    assert "... and 20 more; `billbridge runs 7` lists them all" in text
    assert "sub-1/2026-09" not in text  # the writes are for --verbose and `runs 7`
    assert len(text.splitlines()) < 50  # a screen, at 400 organizations
    assert_fits(text)


def test_verbose_lists_every_write_and_keeps_ids_whole() -> None:
    result = many(3)
    long_one = report(9, operations=(OperationResult("create", "ContractCharge", LONG_KEY, 5, {}),))
    result = RunResult(8, (*result.reports, long_one), requests=10)
    shown = console()
    run_result(shown, result, planned=False, verbose=True)
    text = text_of(shown)
    writes = [line for line in text.splitlines() if line.startswith("  create ")]
    assert len(writes) == 3 * 2 + 1
    assert "  create    ContractCharge sub-1/2026-09 id 2001: 15 x 6.00 (cost 5.40)" in text
    assert LONG_KEY in text  # longer than the line, yet whole
    assert "unchanged 1" in text and "CFQ7TTC0LH18:0001" not in text  # no-ops are counted
    assert_fits(text)


def test_a_plan_says_would() -> None:
    plan = RunResult(None, (report(1), report(2, "skipped", reason="inactive")), requests=4)
    shown = console()
    run_result(shown, plan, planned=True)
    text = text_of(shown)
    assert text.startswith("plan: 2 reports, 4 Autotask requests; nothing was written\n")
    assert "would create 2, would update 0" in text
    assert "would export 1, would be skipped 1" in text
    assert "bb-2026-09-customer-002 (Customer 2 Ltd): would be skipped: inactive" in text
    assert "exported" not in text and "created" not in text
    assert "`--verbose` lists every write the export would make." in text


def test_unknown_and_new_statuses_are_shown_as_words() -> None:
    result = RunResult(
        9,
        (
            report(1, "needs_attention", reason="2 open conflicts"),
            report(2, "waiting_for_budget", reason="paced"),
        ),
    )
    shown = console()
    run_result(shown, result, planned=False)
    text = text_of(shown)
    assert "needs attention 1, waiting for budget 1" in text
    assert "(Customer 1 Ltd): needs attention: 2 open conflicts" in text
    assert "(Customer 2 Ltd): waiting for budget: paced" in text
    assert status_words("needs_attention", planned=True) == "would need attention"


def test_conflicts_and_failed_writes_are_problems_with_the_exact_error() -> None:
    error = "Autotask 500: Object reference not set to an instance of an object."
    conflict = OperationResult(
        "conflict",
        "ContractCharge",
        "sub-3/2026-09",
        44,
        {"unitPrice": {"from": "6.00", "to": "6.50"}},
        reason="billed in Autotask",
    )
    failed = OperationResult("create", "Contract", "sub-4", None, {}, state="failed", error=error)
    result = RunResult(
        10,
        (
            report(3, operations=(conflict,)),
            report(4, "failed", operations=(failed,), reason="a write failed"),
        ),
    )
    shown = console()
    run_result(shown, result, planned=False)
    text = " ".join(text_of(shown).split())
    conflict_text = "conflict on ContractCharge sub-3/2026-09 (id 44): billed in Autotask"
    assert f"bb-2026-09-customer-003: {conflict_text}" in text
    assert f"bb-2026-09-customer-004: create Contract sub-4 failed: {error}" in text
    assert "bb-2026-09-customer-004 (Customer 4 Ltd): failed: a write failed" in text


def test_a_terminal_gets_colour_but_no_box_drawing() -> None:
    shown = console(terminal=True)
    run_result(shown, many(2, skipped_every=2), planned=False)
    text = text_of(shown)
    assert "\x1b[" in text and not BOX.search(text)
    plain = re.sub(r"\x1b\[[0-9;]*m", "", text)
    assert "Problems (1):" in plain


def test_a_run_lists_its_writes_under_each_report() -> None:
    started = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)
    summary = RunSummary(3, "daily", None, "partly_failed", started, None, 2, 0, 1, 0, 1, 12, 2)
    detail = RunDetail(
        summary,
        [
            ReportRecord("r-a", 0, "h", "org-a", "exported", None),
            ReportRecord("r-b", 1, "h", "org-b", "failed", "a write failed", ["late usage"]),
        ],
        [
            OperationRecord(
                "r-b", 0, "create", "Contract", "sub-b", None, {}, None, "failed", "Autotask 500"
            ),
            OperationRecord(
                "r-a", 0, "create", "Contract", "sub-a", 5, {"contractName": "M365"}, None, "done"
            ),
            OperationRecord("r-a", 1, "unchanged", "Product", "sku", 6, {}, None, "none"),
        ],
    )
    shown = console()
    run_detail(shown, run_result_of(detail))
    text = text_of(shown)
    blocks = text.split("\n\n")
    assert blocks[0].startswith("run 3: partly failed, started 2026-11-10 02:00:00 UTC by daily")
    assert blocks[1].startswith("r-a (org-a), revision 0: exported; 1 unchanged\n")
    assert "  create    Contract       sub-a id 5: M365, None..None" in blocks[1]
    assert blocks[2].startswith("r-b (org-b), revision 1: failed: a write failed\n")
    assert "  warning: late usage" in blocks[2]
    assert "sub-b: Autotask 500 [failed]" in blocks[2]
    assert_fits(text)


def test_the_list_of_runs_fits_80_columns() -> None:
    started = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)
    runs = [
        RunSummary(
            n, "daily", None, "partly_failed", started, None, 1200, 300, 12000, 40, 12, 9000, 400
        )
        for n in range(998, 1001)
    ]
    shown = console()
    runs_table(shown, runs)
    text = text_of(shown)
    assert text.splitlines()[0].split() == [
        "run",
        "started",
        "(UTC)",
        "status",
        "reports",
        "created",
        "updated",
        "conflicts",
        "failed",
    ]
    assert "1000 2026-11-10 02:00 partly failed     400    1200     300        40     12" in text
    assert all(len(line) <= 80 for line in text.splitlines())


def test_what_the_engine_records_is_shown_stops_waits_and_unknown_writes() -> None:
    unknown = OperationResult(
        "create", "Contract", "sub-1", None, {}, state="unknown", error="timed out"
    )
    result = RunResult(
        9,
        (
            report(1, "needs_attention"),
            report(2, "failed", operations=(unknown,), reason="Contract sub-1: timed out"),
        ),
        requests=5,
        notes=("Contract sub-1: the outcome of its own write is unknown; looked up at 02:05",),
        error="the API user lacks the permission (HTTP 500): no Contracts",
        status="failed",
    )
    shown = console()
    run_result(shown, result, planned=False)
    text = text_of(shown)
    assert "needs attention 1, failed 1" in text
    assert "  stopped: the API user lacks the permission (HTTP 500): no Contracts" in text
    assert "  Contract sub-1: the outcome of its own write is unknown" in text
    assert "create Contract sub-1 unknown: timed out" in text
    started = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)
    runs = [
        RunSummary(2, "daily", None, "nothing_due", started, started, 0, 0, 0, 0, 0, 0, 0),
        RunSummary(
            1, "cli", None, "failed", started, started, 0, 0, 0, 0, 0, 3, 1, error="no Contracts"
        ),
    ]
    shown = console()
    runs_table(shown, runs)
    text = text_of(shown)
    assert "nothing due" in text and "run 1 stopped: no Contracts" in text
    assert_fits(text)
