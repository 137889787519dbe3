"""Reading billbridge's own CSV and JSON files into located records.

A record is one row (CSV) or one object (JSON) with the file and line it came from, so every
later check can point at the exact place. Column names are checked here, values in `fields`.
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from billbridge.sources.located_json import LocatedDict, TooManyValuesError, loads_located
from billbridge.sources.problems import ProblemLog


@dataclass(frozen=True, slots=True)
class Columns:
    """The columns (CSV) or keys (JSON) a kind of file may have."""

    required: tuple[str, ...]
    optional: tuple[str, ...] = ()

    @property
    def known(self) -> tuple[str, ...]:
        return self.required + self.optional


@dataclass(frozen=True, slots=True)
class Record:
    """One row or object: its values by column, and where it came from."""

    file: str
    line: int
    values: Mapping[str, Any] = field(default_factory=dict)

    @property
    def line_ref(self) -> str:
        return f"{self.file}:{self.line}"


MAX_FILE_BYTES = 100 * 1024 * 1024
"""billbridge's own files (organizations, price list, reports) above this size are refused:
many times any real one, and still read and checked in bounded time and memory."""


def read_bytes(path: Path, log: ProblemLog, *, limit: int = MAX_FILE_BYTES) -> bytes | None:
    """The bytes of a regular file of at most `limit` bytes, or None with a problem logged.

    A FIFO or a device (`/dev/zero`, a terminal) is refused before it is read: opening a FIFO
    would wait for a writer forever, and a device may never end.
    """
    try:
        # O_NONBLOCK: opening a FIFO without a writer returns at once instead of waiting.
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        log.add(path, None, None, f"cannot be read: {exc.strerror or exc}")
        return None
    mode = os.fstat(descriptor).st_mode
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        if stat.S_ISDIR(mode):
            log.add(path, None, None, "is a folder, not a file")
        else:
            log.add(path, None, None, "is not a regular file (a pipe or a device); give a file")
        return None
    with os.fdopen(descriptor, "rb") as handle:
        try:
            raw = handle.read(limit + 1)  # a file that grows while read is cut off here
        except OSError as exc:
            log.add(path, None, None, f"cannot be read: {exc.strerror or exc}")
            return None
    if len(raw) > limit:
        log.add(path, None, None, f"is larger than {limit // (1024 * 1024)} MB; split it")
        return None
    return raw


def read_text(path: Path, log: ProblemLog) -> str | None:
    """The file's text, or None (with a problem logged) if it is missing, empty, not UTF-8, or
    not a regular file of a sane size."""
    raw = read_bytes(path, log)
    if raw is None:
        return None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        log.add(path, line, None, f"is not UTF-8 (byte 0x{raw[exc.start]:02x}); save it as UTF-8")
        return None
    if not text.strip():
        log.add(path, None, None, "is empty")
        return None
    return text


def file_format(path: Path) -> str | None:
    """'csv' or 'json' by the file's extension."""
    suffix = path.suffix.lower()
    return {".csv": "csv", ".json": "json"}.get(suffix)


def read_csv_records(path: Path, text: str, columns: Columns, log: ProblemLog) -> list[Record]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except csv.Error as exc:
        log.add(path, 1, None, f"broken CSV: {exc}")
        return []
    header = [name.strip() for name in header]
    if not _check_columns(path, 1, header, columns, log, what="column"):
        return []
    records: list[Record] = []
    line_start = reader.line_num + 1
    try:
        for row in reader:
            line = line_start
            line_start = reader.line_num + 1
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                log.add(
                    path,
                    line,
                    None,
                    f"has {len(row)} fields where the header has {len(header)}"
                    " (a decimal comma or an unquoted comma in a name?)",
                )
                continue
            records.append(Record(str(path), line, dict(zip(header, row, strict=True))))
    except csv.Error as exc:
        log.add(path, reader.line_num, None, f"broken CSV: {exc}")
    if not records and not log:
        log.add(path, None, None, "has a header but no rows")
    return records


def parse_json(path: Path, text: str, log: ProblemLog) -> Any:
    """The parsed document, or None with a problem logged."""
    try:
        return loads_located(text)
    except json.JSONDecodeError as exc:
        log.add(path, exc.lineno, None, f"broken JSON: {exc.msg} (column {exc.colno})")
    except TooManyValuesError as exc:
        log.add(path, None, None, str(exc))
    except RecursionError:
        log.add(path, None, None, "broken JSON: nested too deeply")
    except ValueError as exc:  # e.g. a number of more than 4300 digits
        log.add(path, None, None, f"broken JSON: {exc}")
    return None


def json_objects(
    path: Path, items: Any, columns: Columns, log: ProblemLog, *, where: str, line: int = 1
) -> list[Record]:
    """Records from a JSON list of objects, each checked against `columns`."""
    if not isinstance(items, list):
        log.add(path, line, None, f"{where} must be a list of objects, not {_json_kind(items)}")
        return []
    records: list[Record] = []
    for index, item in enumerate(items, start=1):
        if not isinstance(item, LocatedDict):
            log.add(
                path, line, None, f"{where} item {index} must be an object, not {_json_kind(item)}"
            )
            continue
        for key in item.duplicate_keys:
            log.add(path, item.line, key, "appears twice in the same object")
        if _check_columns(path, item.line, list(item), columns, log, what="key"):
            records.append(Record(str(path), item.line, item))
    return records


def _check_columns(
    path: Path, line: int, names: Sequence[str], columns: Columns, log: ProblemLog, *, what: str
) -> bool:
    ok = True
    seen: set[str] = set()
    for name in names:
        if name in seen and what == "column":
            log.add(path, line, name, f"{what} appears twice in the header")
            ok = False
        seen.add(name)
        if name not in columns.known:
            log.add(path, line, name, f"unknown {what}; expected {', '.join(columns.known)}")
            ok = False
    for name in columns.required:
        if name not in seen:
            log.add(path, line, name, f"required {what} is missing")
            ok = False
    return ok


def _json_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"
