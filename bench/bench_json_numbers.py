"""Benchmark: JSON lines whose numbers a double would round, imported as a user imports them.

Graph's usage export is gzipped JSON lines. polars reads a JSON number through a double, which
rounds a number of 16 or more significant digits; the columnar reader takes such numbers from
their lines as written, sums values of more than 20 places apart with 30 (a second pass over
the chunks that need it), and sends a file to the row reader only where a summed number has
more. This benchmark writes the same usage rows (`bench_partner_center.generate`,
250,000 by default, about one blob of the emulator's) three ways:

- `as written`: the numbers as Microsoft's CSV has them (at most 10 significant digits);
- `doubles, <= 20 places`: each number divided by 3 and written as the double's shortest text
  (`0.3333333333333333`, 16-17 digits) where that has at most 20 places, as written otherwise;
- `doubles, all`: every number so, the smallest with up to 25 places (`7.685866666666667E-8`),
  which need the finer sums.

and times `billbridge import partner-center FILE --generated-on DAY` on each, its own process
with a new SQLite state file, --repeat times interleaved (median wall, CPU and peak RSS).

Usage: .venv/bin/python bench/bench_json_numbers.py [--rows N] [--repeat 3] [--out DIR]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import statistics
import sys
import tempfile
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_partner_center import usage_file
from bench_pull import INVOICE_DAY, config, timed
from installed import compile_billbridge

NUMBERS = (
    "UnitPrice",
    "Quantity",
    "BillingPreTaxTotal",
    "PricingPreTaxTotal",
    "EffectiveUnitPrice",
    "PCToBCExchangeRate",
    "PartnerEarnedCreditPercentage",
    "CreditPercentage",
)
SUMMED = ("Quantity", "BillingPreTaxTotal", "PricingPreTaxTotal", "EffectiveUnitPrice")


def as_written(text: str) -> str:
    return str(Decimal(text))


def _third(text: str) -> str:
    return repr(float(Decimal(text)) / 3)


def doubles_in_20_places(text: str) -> str:
    third = _third(text)
    exponent = Decimal(third).as_tuple().exponent
    return third if isinstance(exponent, int) and exponent >= -20 else as_written(text)


VARIANTS: dict[str, tuple[str, Callable[[str], str]]] = {
    "as written": ("written", as_written),
    "doubles, <= 20 places": ("doubles-20", doubles_in_20_places),
    "doubles, all": ("doubles-all", _third),
}
"""Each variant's name, the name its file is told by, and how it writes a summed number."""


def write_json_lines(source: Path, target: Path, number: Callable[[str], str]) -> None:
    """The CSV's rows as JSON lines, gzipped, the summed numbers written by `number`."""
    with (
        source.open(newline="", encoding="utf-8") as rows,
        gzip.open(target, "wt", encoding="utf-8", compresslevel=1) as out,
    ):
        for row in csv.DictReader(rows):
            fields = []
            for key, value in row.items():
                if key in NUMBERS and value:
                    written = number(value) if key in SUMMED else as_written(value)
                else:
                    written = json.dumps(value)
                fields.append(f"{json.dumps(key)}:{written}")
            out.write("{" + ",".join(fields) + "}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=250_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    compile_billbridge()
    source = usage_file(args.out, args.rows)
    files = {}
    for name, (slug, number) in VARIANTS.items():
        path = args.out / f"json-numbers-{args.rows}-{slug}.json.gz"
        if not path.exists():
            print(f"writing {path.name} ({name}) ...", flush=True)
            write_json_lines(source, path, number)
        files[name] = path
    runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in VARIANTS}
    for _ in range(args.repeat):
        for name, path in files.items():
            with tempfile.TemporaryDirectory(prefix="bench-json-numbers-") as work:
                cfg = config(Path(work), None)
                command = ["--config", str(cfg), "import", "partner-center", str(path)]
                runs[name].append(timed([*command, "--generated-on", INVOICE_DAY], Path(work)))
    print(f"billbridge import partner-center, {args.rows:,} rows of JSON lines:")
    for name, found in runs.items():
        seconds = statistics.median(run[0] for run in found)
        cpu = statistics.median(run[1] for run in found)
        rss = max(run[2] for run in found)
        each = ", ".join(f"{run[0]:.2f}" for run in found)
        print(f"  {name:<24}{seconds:>6.2f} s {cpu:>6.2f} CPU s {rss:>5.0f} MiB  ({each})")


if __name__ == "__main__":
    main()
