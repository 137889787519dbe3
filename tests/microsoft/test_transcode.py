"""The usage export's JSON lines as CSV: every value exactly as Microsoft wrote it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from billbridge.microsoft.transcode import jsonl_to_csv

LINES: list[dict[str, str | None]] = [
    {
        "Quantity": "__7.10833E-05__",
        "BillingPreTaxTotal": "__22.000000000000000000__",
        "UnitPrice": "__-0.1234567890123456789__",
        "Tags": json.dumps({"env": "prod", "cost:center": 12, "note": 'say "hi":5'}),
        "MeterName": "Flexible Server\u00a0Memory Optimized",
        "ResourceURI": '/x/"q":1,y',
        "Empty": "",
        "Missing": None,
    },
    {"Quantity": "__0__", "BillingPreTaxTotal": "__1E+2__", "UnitPrice": "__5__", "Tags": "{}"},
]


def _write(path: Path) -> None:
    with path.open("w", encoding="utf-8") as out:
        for item in LINES:
            text = json.dumps({k: v for k, v in item.items() if v is not None}, ensure_ascii=False)
            # numbers as JSON numbers, written as Microsoft writes them
            out.write(text.replace('"__', "").replace('__"', "") + "\n")


def test_numbers_strings_and_missing_fields_survive(tmp_path: Path) -> None:
    source, target = tmp_path / "usage.jsonl", tmp_path / "usage.csv"
    _write(source)
    raw = source.read_text(encoding="utf-8").splitlines()
    assert '"Quantity": 7.10833E-05' in raw[0]  # a JSON number, not a string

    assert jsonl_to_csv(source, target)

    with target.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    first, second = rows
    assert first["Quantity"] == "7.10833E-05"
    assert first["BillingPreTaxTotal"] == "22.000000000000000000"
    assert first["UnitPrice"] == "-0.1234567890123456789"
    assert json.loads(first["Tags"]) == {"env": "prod", "cost:center": 12, "note": 'say "hi":5'}
    assert first["MeterName"] == "Flexible Server\u00a0Memory Optimized"
    assert first["ResourceURI"] == '/x/"q":1,y'
    assert first["Empty"] == ""
    assert second["BillingPreTaxTotal"] == "1E+2"
    assert second["Quantity"] == "0"
    assert second["MeterName"] == ""  # not on this line


def test_a_broken_line_leaves_the_json_lines_to_the_reader(tmp_path: Path) -> None:
    source, target = tmp_path / "usage.jsonl", tmp_path / "usage.csv"
    source.write_text('{"Quantity": 1}\n{"Quantity": \n', encoding="utf-8")
    assert not jsonl_to_csv(source, target)
