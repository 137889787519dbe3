"""Opening Partner Center files: plain or gzipped, CSV or JSON, every record with its line.

The format is sniffed from the content, never the name: gzip by its magic bytes (a `.gz` may
hold any of the kinds, and a multi-member stream is read to its end), JSON by its first
character. JSON comes as the API's responses (`{"items": [...]}`), a list of line items, or the
JSON lines of a Graph billing export; each record keeps the line its object starts on.

Problems (not UTF-8, broken gzip, broken CSV or JSON, empty file) are logged with the line they
were found at. A broken JSON line is skipped; any other problem ends the reading of the file.

Hostile input is refused in bounded time and memory, naming the file: anything but a regular
file (a FIFO would block forever, a link to `/dev/zero` never ends), a gzip stream that inflates
more than `MAX_GZIP_RATIO` times (a gzip bomb), a line longer than `MAX_LINE_BYTES` and a JSON
document (not JSON lines) larger than `MAX_JSON_DOCUMENT_BYTES`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import stat
import tempfile
import zlib
from collections.abc import Generator, Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Literal, cast

from isal import igzip, isal_zlib

from billbridge.sources.located_json import LocatedDict, loads_located
from billbridge.sources.partner_center.columns import canonical
from billbridge.sources.problems import ProblemLog

_GZIP_MAGIC = b"\x1f\x8b"
_SNIFF_BYTES = 4096
_FINGERPRINT_BYTES = 1 << 20
_MIB = 1 << 20
_INFLATE_PIECE = _MIB

MAX_GZIP_RATIO = 100
"""How many times its compressed size a gzipped file may inflate to. Real exports inflate 9-13x
(CSV: the anonymised 89,780-row usage sample of November 2025 is 68 MB from 5.3 MB) and 12-21x
(the same rows as the Graph export's JSON lines); a gzip bomb inflates about 1,000x (6 GiB from
6 MB). So a real file of any size passes, and a 6 MB file can never cost more than 600 MB."""
GZIP_RATIO_FROM_BYTES = 16 * _MIB
"""The ratio is checked once this much is inflated: a small test file of identical rows may
compress better than any real export, and 16 MiB is read in well under a second."""
MAX_LINE_BYTES = 16 * _MIB
"""A Partner Center CSV row is about 750 bytes and a JSON line about 2 KB; a longer line is not
a billing file, and reading it whole would grow memory without bound."""
MAX_JSON_DOCUMENT_BYTES = 256 * _MIB
"""A JSON document (not JSON lines) is parsed whole; the API's responses are pages of at most
2,000 line items (a few MB). Big exports come as JSON lines, which are read line by line."""


GZIP_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    EOFError,
    zlib.error,
    cast("type[Exception]", isal_zlib.error),  # isal's stubs do not say it is one
)
"""What reading a broken gzip stream raises (ISA-L's inflate, zlib's names for the same)."""


class Refused(OSError):
    """Input refused before it could cost unbounded time or memory; the message says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class Record:
    """One CSV row or JSON line item: its raw values by canonical column key."""

    line: int
    values: Mapping[str, Any]


@dataclass(slots=True)
class Source:
    """One input file, its format and its columns; `records()` reads (or re-reads) its rows."""

    path: Path
    format: Literal["csv", "json-lines", "json"]
    compressed: bool
    columns: list[str]
    """The column names (CSV) or keys (JSON) as written, in order, repeats included."""
    _items: list[Record] = field(default_factory=list)

    @property
    def name(self) -> str:
        return str(self.path)

    @property
    def header_line(self) -> int:
        return 1

    def records(self, log: ProblemLog) -> Iterator[Record]:
        if self.format == "csv":
            yield from self._csv_records(log)
        elif self.format == "json-lines":
            yield from self._json_lines(log)
        else:
            yield from self._items

    @contextmanager
    def plain_csv(self) -> Iterator[Path]:
        """The CSV as an uncompressed file, for the columnar reader (a temporary copy if gzipped).

        Raises one of `GZIP_ERRORS` on a broken gzip stream; the row reader then reports it
        precisely. `Refused` (a gzip bomb) must not be retried by the row reader.
        """
        if not self.compressed:
            yield self.path
            return
        with tempfile.TemporaryDirectory(prefix="billbridge-") as directory:
            plain = Path(directory) / "usage.csv"
            with open_content(self.path, True) as packed, plain.open("wb") as out:
                shutil.copyfileobj(packed, out, 1 << 22)
            yield plain

    def _csv_records(self, log: ProblemLog) -> Iterator[Record]:
        reader = csv.reader(_text_lines(self.path, self.compressed, self.name, log), strict=True)
        keys = [canonical(name) for name in self.columns]
        header = [name.strip() for name in self.columns]
        width = len(keys)
        line_start = 1
        try:
            for number, row in enumerate(reader):
                line = line_start
                line_start = reader.line_num + 1
                if number == 0 or not "".join(row).strip():
                    continue
                if len(row) > width:
                    log.add(
                        self.name,
                        line,
                        None,
                        f"has {len(row)} fields where the header has {width}"
                        " (an unquoted comma in a value?)",
                    )
                    continue
                if row[0].strip() == header[0] and [cell.strip() for cell in row] == header:
                    continue  # a header repeated by concatenated exports
                yield Record(line, dict(zip(keys, row, strict=False)))
        except csv.Error as exc:
            log.add(self.name, reader.line_num, None, f"broken CSV: {exc}")

    def _json_lines(self, log: ProblemLog) -> Iterator[Record]:
        for number, text in enumerate(_text_lines(self.path, self.compressed, self.name, log), 1):
            if not text.strip():
                continue
            try:
                item = json.loads(text, parse_float=Decimal, parse_constant=_no_constant)
            except ValueError as exc:
                log.add(self.name, number, None, f"broken JSON: {_json_message(exc)}")
                continue
            if not isinstance(item, dict):
                log.add(self.name, number, None, "each JSON line must be an object (a line item)")
                continue
            yield Record(number, _by_key(item))


def fingerprint(path: Path) -> tuple[int, str] | None:
    """Size and a digest of the first and last MiB: the same export saved twice under two names
    has the same one (its rows must not be counted twice). None if the file cannot be read."""
    try:
        size = path.stat().st_size
        digest = hashlib.sha256()
        with open_regular(path) as raw:
            digest.update(raw.read(_FINGERPRINT_BYTES))
            raw.seek(max(size - _FINGERPRINT_BYTES, 0))
            digest.update(raw.read(_FINGERPRINT_BYTES))
    except OSError:
        return None
    return size, digest.hexdigest()


def open_source(path: Path, log: ProblemLog) -> Source | None:
    """The file opened and sniffed, or None with the problem logged."""
    try:
        with open_regular(path) as raw:
            compressed = raw.read(2) == _GZIP_MAGIC
    except Refused as exc:
        log.add(path, None, None, str(exc))
        return None
    except OSError as exc:
        log.add(path, None, None, f"cannot be read: {exc.strerror or exc}")
        return None
    head = _head(path, compressed, log)
    if head is None:
        return None
    start = head.lstrip("\ufeff \t\r\n")
    if not start:
        log.add(path, None, None, "is empty")
        return None
    if start[0] in "[{":
        return _open_json(path, compressed, start, log)
    return _open_csv(path, compressed, log)


def is_blank(path: Path) -> bool:
    """True if the file, inflated if gzipped, holds nothing but blanks (a blob of no rows).
    A file that cannot be read is not blank: the reader then says what is wrong with it."""
    try:
        with open_regular(path) as raw:
            compressed = raw.read(2) == _GZIP_MAGIC
        with open_content(path, compressed) as content:
            while block := content.read(_SNIFF_BYTES):
                if block.strip():
                    return False
    except GZIP_ERRORS:
        return False
    return True


def _head(path: Path, compressed: bool, log: ProblemLog) -> str | None:
    try:
        with open_content(path, compressed) as raw:
            data = raw.read(_SNIFF_BYTES)
    except Refused as exc:
        log.add(path, None, None, str(exc))
        return None
    except GZIP_ERRORS as exc:
        log.add(path, 1, None, _broken(exc) if compressed else f"cannot be read: {exc}")
        return None
    return data.decode("utf-8", errors="ignore")


def _open_csv(path: Path, compressed: bool, log: ProblemLog) -> Source | None:
    before = len(log.problems)
    with closing(_text_lines(path, compressed, str(path), log)) as lines:
        try:
            header = next(csv.reader(lines, strict=True), None)
        except csv.Error as exc:
            log.add(path, 1, None, f"broken CSV: {exc}")
            return None
    if header is None:
        if len(log.problems) == before:
            log.add(path, None, None, "is empty")
        return None
    return Source(path, "csv", compressed, header)


def _open_json(path: Path, compressed: bool, start: str, log: ProblemLog) -> Source | None:
    first_line = start.split("\n", 1)[0]
    if first_line.lstrip().startswith("{"):
        try:
            first = json.loads(first_line, parse_float=Decimal, parse_constant=_no_constant)
        except ValueError:
            first = None
        if isinstance(first, dict) and not _is_container(first):
            return Source(path, "json-lines", compressed, list(first))
    text = _whole_text(path, compressed, log)
    if text is None:
        return None
    try:
        document = loads_located(text)
    except json.JSONDecodeError as exc:
        log.add(path, exc.lineno, None, f"broken JSON: {exc.msg} (column {exc.colno})")
        return None
    except RecursionError:
        log.add(path, None, None, "broken JSON: nested too deeply")
        return None
    items = _items(document)
    if items is None:
        log.add(
            path,
            1,
            None,
            'expected Partner Center line items: a list, an API response {"items": [...]}'
            " or JSON lines",
        )
        return None
    before = len(log.problems)
    records: list[Record] = []
    columns: dict[str, None] = {}
    for index, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            log.add(path, getattr(document, "line", 1), None, f"item {index} is not an object")
            continue
        line = item.line if isinstance(item, LocatedDict) else 1
        columns.update(dict.fromkeys(item))
        records.append(Record(line, _by_key(item)))
    if not records:
        if len(log.problems) == before:
            log.add(path, None, None, "has no line items")
        return None
    return Source(path, "json", compressed, list(columns), records)


def _items(document: Any) -> list[Any] | None:
    if isinstance(document, list):
        return document
    if isinstance(document, dict):
        if _is_container(document):
            found = document.get("items", document.get("value"))
            return found if isinstance(found, list) else None
        return [document]
    return None


def _is_container(obj: dict[str, Any]) -> bool:
    return any(isinstance(obj.get(key), list) for key in ("items", "value"))


def _by_key(item: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, value in item.items():
        values.setdefault(canonical(key), value)
    return values


def _whole_text(path: Path, compressed: bool, log: ProblemLog) -> str | None:
    try:
        with open_content(path, compressed) as content:
            raw = content.read(MAX_JSON_DOCUMENT_BYTES + 1)
        if len(raw) > MAX_JSON_DOCUMENT_BYTES:
            raise Refused(
                f"is a JSON document of more than {MAX_JSON_DOCUMENT_BYTES // _MIB} MiB, more"
                " than any Partner Center API response; give big exports as JSON lines"
            )
    except Refused as exc:
        log.add(path, None, None, str(exc))
        return None
    except GZIP_ERRORS as exc:
        log.add(path, None, None, _broken(exc) if compressed else f"cannot be read: {exc}")
        return None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        log.add(path, line, None, f"is not UTF-8 (byte 0x{raw[exc.start]:02x}); save it as UTF-8")
        return None


def _text_lines(
    path: Path, compressed: bool, name: str, log: ProblemLog
) -> Generator[str, None, None]:
    """The file's lines, decoded one by one so that a bad byte is reported at its own line."""
    number = 0
    try:
        with open_content(path, compressed) as raw:
            for number, chunk in enumerate(iter(lambda: raw.readline(MAX_LINE_BYTES + 1), b""), 1):
                if len(chunk) > MAX_LINE_BYTES:
                    raise Refused(
                        f"line {number} is longer than {MAX_LINE_BYTES // _MIB} MiB, which no"
                        " Partner Center file has"
                    )
                try:
                    text = chunk.decode("utf-8")
                except UnicodeDecodeError as exc:
                    log.add(
                        name,
                        number,
                        None,
                        f"is not UTF-8 (byte 0x{chunk[exc.start]:02x}); save it as UTF-8",
                    )
                    return
                yield text.removeprefix("\ufeff") if number == 1 else text
    except Refused as exc:
        log.add(name, None, None, str(exc))
    except GZIP_ERRORS as exc:
        log.add(name, number + 1, None, _broken(exc) if compressed else f"cannot be read: {exc}")


def open_regular(path: Path) -> IO[bytes]:
    """The file for reading, or `Refused` if it is not a regular file: opening a FIFO would
    wait for a writer forever, and a device (`/dev/zero`, also through a symlink) never ends."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise Refused(f"is {_kind(mode)}, not a regular file; give the file itself")
        os.set_blocking(descriptor, True)
    except BaseException:
        os.close(descriptor)
        raise
    return os.fdopen(descriptor, "rb")


def open_content(path: Path, compressed: bool) -> IO[bytes]:
    """The file's content: its bytes, or for a gzipped file (any number of members) the
    inflated bytes, refused (`Refused`) once they outgrow `MAX_GZIP_RATIO`."""
    raw = open_regular(path)
    if not compressed:
        return raw
    return io.BufferedReader(_Inflated(raw, path), buffer_size=1 << 20)


class _Inflated(io.RawIOBase):
    """A gzip stream inflated as it is read, refused when it grows too far past its input.
    ISA-L inflates 2-3x faster than zlib: a pulled month of Graph's JSON lines (1.7 GB for a
    million rows) is read from its gzipped blobs, never stored inflated."""

    def __init__(self, raw: IO[bytes], path: Path) -> None:
        self._raw = raw
        self._gzip = igzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[no-untyped-call]
        self._path = path
        self._out = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        # A piece at a time: inflating a big read at once would hold it twice (inflated, then
        # copied into `buffer`), and the bomb check would come after it.
        with memoryview(buffer) as view:
            count = self._gzip.readinto(view[:_INFLATE_PIECE])
        self._out += count
        if self._out > GZIP_RATIO_FROM_BYTES:
            read = max(self._raw.tell(), 1)
            if self._out > MAX_GZIP_RATIO * read:
                raise Refused(
                    f"inflates more than {MAX_GZIP_RATIO} times its gzipped size"
                    f" ({_size(self._out)} from {_size(read)} so far), which no"
                    " real Partner Center export does: refused as a gzip bomb"
                )
        return count

    def close(self) -> None:
        try:
            self._gzip.close()
            self._raw.close()
        finally:
            super().close()


def _broken(exc: Exception) -> str:
    if isinstance(exc, EOFError):
        return "broken gzip: the file ends in the middle of its gzip stream (truncated?)"
    return f"broken gzip: {exc}"


def _size(count: int) -> str:
    return f"{count / _MIB:,.1f} MiB" if count >= _MIB else f"{count / 1024:,.0f} KiB"


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "something else"


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _json_message(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} (column {exc.colno})"
    return str(exc)
