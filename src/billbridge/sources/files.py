"""Dispatch over the files of one import command: CSV or JSON by extension."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from billbridge.sources.problems import ProblemLog
from billbridge.sources.tabular import (
    Columns,
    Record,
    file_format,
    json_objects,
    parse_json,
    read_csv_records,
    read_text,
)


def read_flat_records(paths: Sequence[Path], columns: Columns, log: ProblemLog) -> list[Record]:
    """Records of files holding one kind of flat row: a CSV, or a JSON list of objects."""

    def from_json(path: Path, document: Any) -> list[Record]:
        return json_objects(path, document, columns, log, where="the file")

    return read_records(paths, columns, log, from_json)


def read_records(
    paths: Sequence[Path],
    columns: Columns,
    log: ProblemLog,
    from_json: Callable[[Path, Any], list[Record]],
) -> list[Record]:
    records: list[Record] = []
    for path in paths:
        kind = file_format(path)
        if kind is None:
            log.add(path, None, None, "unknown file type; use a .csv or .json file")
            continue
        text = read_text(path, log)
        if text is None:
            continue
        if kind == "csv":
            records.extend(read_csv_records(path, text, columns, log))
        else:
            document = parse_json(path, text, log)
            if document is not None:
                records.extend(from_json(path, document))
    return records
