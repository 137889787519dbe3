"""CSV and XLSX files billbridge writes, every cell safe against formula injection.

Names, ids and descriptions come from customers' files and from Autotask verbatim; a value
such as `=cmd|'/C calc'!A0` opened in a spreadsheet program would run as a formula. Every
text cell goes through `safe_cell`, which prefixes such text with an apostrophe (OWASP's
advice for CSV injection); in XLSX text cells are also typed as strings, never formulas.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

Cell = str | int | Decimal | bool | date | None

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
"""What a spreadsheet program reads as the start of a formula (with full-width forms)."""
_PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?")
SHEET_NAME = re.compile(r"[\[\]:*?/\\]")


def safe_cell(value: Cell) -> Cell:
    """`value`, with text that a spreadsheet would run as a formula made inert.

    A plain number written as text (`-4.80`) stays as it is: it is not a formula.
    """
    if isinstance(value, str) and value.startswith(FORMULA_START):
        if _PLAIN_NUMBER.fullmatch(value):
            return value
        return "'" + value
    return value


@dataclass(frozen=True, slots=True)
class Sheet:
    """One view: a name, a header row and the rows under it."""

    name: str
    header: Sequence[str]
    rows: Sequence[Sequence[Cell]]
    money_columns: frozenset[int] = frozenset()
    """Columns written as numbers with two decimals in XLSX."""


def csv_text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def write_csv(path: Path, sheet: Sheet) -> None:
    """One sheet as UTF-8 CSV with a header row (RFC 4180 line ends, so that a carriage
    return inside a value is quoted and read back as part of it)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow([csv_text(safe_cell(name)) for name in sheet.header])
        for row in sheet.rows:
            writer.writerow([csv_text(safe_cell(value)) for value in row])


def write_xlsx(path: Path, sheets: Sequence[Sheet]) -> None:
    """A workbook with one worksheet per sheet; money as numbers, text always as text."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    for sheet in sheets:
        page = book.create_sheet(_sheet_name(sheet.name))
        page.append([str(safe_cell(name)) for name in sheet.header])
        for cell in page[1]:
            cell.font = Font(bold=True)
        for values in sheet.rows:
            page.append([_xlsx_value(v, i in sheet.money_columns) for i, v in enumerate(values)])
        for row in page.iter_rows(min_row=2):
            for cell in row:
                if isinstance(cell.value, str):
                    cell.data_type = "s"
                elif isinstance(cell.value, Decimal | float):
                    cell.number_format = "0.00"
        for index, name in enumerate(sheet.header, start=1):
            width = max([len(str(name))] + [len(csv_text(r[index - 1])) for r in sheet.rows])
            page.column_dimensions[page.cell(1, index).column_letter].width = min(width + 2, 60)
        page.freeze_panes = "A2"
    book.save(path)


def _xlsx_value(value: Cell, money: bool) -> Cell:
    if money and isinstance(value, str) and _PLAIN_NUMBER.fullmatch(value):
        return Decimal(value)
    if isinstance(value, Decimal) and not money:
        return format(value, "f")
    return safe_cell(value)


def _sheet_name(name: str) -> str:
    return SHEET_NAME.sub(" ", name)[:31] or "Sheet"
