"""Diagnostic: what an import of a big usage file costs after polars has grouped its rows.

    .venv/bin/python bench/bench_report_building.py [--rows 1000000] [--repeat 7]
        [--before SRC]

`bench_partner_center.py` measures the import as users run it; on a 2-core machine whose
speed drifts by a third within minutes, a change of a tenth of a second to the single-threaded
Python that follows polars (turning groups into meters, meters into reports, hashing and
saving them) disappears in its noise. This script times that part alone, in-process: polars
groups the file once, then each repeat turns the same groups into reports and saves them into
a new SQLite file, and the best of the repeats is printed per phase. With `--before SRC`
(an older commit's `src`, from `git archive COMMIT src | tar -x -C DIR`) the same is run
with that code in its own process, the two alternated, so that both see the same machine.

It uses the reader's internals (the seams between its phases); it is a diagnostic, not a
figure users see.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

_JOB = """
import json, sys, tempfile, time
from datetime import date
from pathlib import Path

from billbridge.sources.partner_center import columnar, reports, usage
from billbridge.sources.partner_center.columns import bind
from billbridge.sources.partner_center.files import open_source
from billbridge.sources.partner_center.prices import Pricing
from billbridge.sources.problems import ProblemLog
from billbridge.store import Store

path, repeat = Path(sys.argv[1]), int(sys.argv[2])
source = open_source(path, ProblemLog())
binding, _ = bind(source.columns, usage.FIELDS)
layout = usage.layout(binding)
groups = columnar._groups(columnar._csv_frame(path, source), columnar._columns(source), layout)
best = {}
for _ in range(repeat):
    times = {}
    start = time.perf_counter()
    meters = usage.finish(columnar._raw_groups(groups), layout)
    times["meters"] = time.perf_counter() - start
    builder = reports.Builder([str(path)], date(2025, 12, 6), Pricing({}, None, None), ProblemLog())
    start = time.perf_counter()
    if hasattr(reports, "UsageMeters"):
        merged = reports.UsageMeters()
        merged.add(0, meters)
        made = builder.usage_reports(merged)
    else:  # code before 2026-12-03
        made = builder.usage_reports([reports.UsageFile(str(path), 0, meters)])
    times["reports"] = time.perf_counter() - start
    start = time.perf_counter()
    hashes = [item.report.content_hash for item in made]
    times["hashes"] = time.perf_counter() - start
    store = Store(f"sqlite:///{tempfile.mkdtemp()}/state.db")
    start = time.perf_counter()
    with store.transaction() as uow:
        for item in made:
            uow.reports.save(item.report, source=path.name)
    times["save"] = time.perf_counter() - start
    store.close()
    times["total"] = sum(times.values())
    for name, seconds in times.items():
        best[name] = min(best.get(name, seconds), seconds)
lines = sum(len(item.report.lines) for item in made)
print(json.dumps({"best": best, "reports": len(made), "lines": lines}))
"""


def run(csv: Path, repeat: int, source: Path | None) -> dict[str, object]:
    env = dict(os.environ)
    if source is not None:
        env["PYTHONPATH"] = str(source.resolve())
    code = textwrap.dedent(_JOB)
    done = subprocess.run(
        [sys.executable, "-c", code, str(csv), str(repeat)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"the job failed:\n{done.stderr}")
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out")
    parser.add_argument("--repeat", type=int, default=7, help="repeats per process")
    parser.add_argument("--rounds", type=int, default=2, help="processes per code, alternated")
    parser.add_argument("--before", type=Path, metavar="SRC", help="also run this src")
    args = parser.parse_args()
    csv = args.out / f"daily-usage-{args.rows}.csv"
    if not csv.exists():
        raise SystemExit(f"{csv} is missing: run bench_partner_center.py --rows {args.rows} --keep")
    codes: list[tuple[str, Path | None]] = [("now", None)]
    if args.before is not None:
        codes.append(("before", args.before))
    print(f"best of {args.repeat} per process, {args.rounds} processes each, alternated (s)")
    print(f"{'code':8} {'meters':>7} {'reports':>7} {'hashes':>7} {'save':>7} {'total':>7}")
    for _ in range(args.rounds):
        for name, source in codes:
            result = run(csv, args.repeat, source)
            best = result["best"]
            assert isinstance(best, dict)
            figures = " ".join(
                f"{best[k]:7.3f}" for k in ("meters", "reports", "hashes", "save", "total")
            )
            print(f"{name:8} {figures}")
    print(f"({result['reports']} reports, {result['lines']} lines)")


if __name__ == "__main__":
    main()
