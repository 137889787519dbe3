"""Graph's billing exports: start one, poll its operation, read its manifest, fetch its blobs.

`POST {graph_url}/v1.0/reports/partners/billing/{reconciliation,usage}/billed/export` answers
202 with the operation's URL in `Location`. The operation is polled as its `Retry-After` asks
until `succeeded` (the manifest at `resourceLocation@odata.navigationLink`, or inline in
`resourceLocation`) or `failed` (code 5000, "No data available", is an empty export, not an
error). Each blob, `{rootDirectory}/{name}?{sasToken}`, is gzipped JSON lines (schema "1" or
"2"; `compressedJSONLines`, or `compressedJSON` whose blob may be one JSON array); it is streamed
and gunzipped member by member into a plain JSON-lines file, so a month never sits in memory.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO, Literal, cast

from isal import isal_zlib
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from billbridge.microsoft.errors import (
    ExportFailedError,
    MalformedResponseError,
    OperationTimeoutError,
)
from billbridge.microsoft.http import MicrosoftHttp, parse_json, retry_after
from billbridge.microsoft.settings import GRAPH_SCOPE
from billbridge.sources.lines import newlines

logger = logging.getLogger(__name__)

Kind = Literal["reconciliation", "usage"]
KINDS: tuple[Kind, ...] = ("reconciliation", "usage")
NO_DATA_CODE = "5000"
_CHUNK = 1 << 20
_MAX_BLOBS = 10_000
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=/-]*$")
_DEFAULT_POLL_S = 10.0
_INFLATE_ERROR = cast("type[Exception]", isal_zlib.error)  # isal's stubs do not say it is one


class ManifestBlob(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    name: str
    partitionValue: str | None = None

    @field_validator("name")
    @classmethod
    def _safe(cls, value: str) -> str:
        if not _SAFE_NAME.match(value) or ".." in value:
            raise ValueError(f"blob name {value!r} is not a plain blob name")
        return value


class Manifest(BaseModel):
    """The manifest of a finished export (Graph `partners.billing.manifest`)."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    id: str = Field(min_length=1)
    schemaVersion: Literal["1", "2"]
    dataFormat: Literal["compressedJSONLines", "compressedJSON"]
    eTag: str = Field(min_length=1)
    rootDirectory: str = Field(pattern=r"^https?://")
    sasToken: str = Field(repr=False)
    blobCount: int = Field(ge=0, le=_MAX_BLOBS)
    blobs: list[ManifestBlob] = Field(max_length=_MAX_BLOBS)

    @field_validator("schemaVersion", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value

    def blob_url(self, blob: ManifestBlob) -> str:
        return f"{self.rootDirectory.rstrip('/')}/{blob.name}?{self.sasToken.lstrip('?')}"


@dataclass(frozen=True)
class Succeeded:
    manifest_url: str | None
    manifest: Manifest | None


@dataclass(frozen=True)
class NoData:
    pass


Outcome = Succeeded | NoData


def export_url(http: MicrosoftHttp, kind: Kind, state: str = "billed") -> str:
    return f"{http.settings.graph_url}/v1.0/reports/partners/billing/{kind}/{state}/export"


def start_export(http: MicrosoftHttp, kind: Kind, body: dict[str, Any], what: str) -> str:
    """The operation URL of a new export (its `Location`)."""
    url = export_url(http, kind, "billed" if "invoiceId" in body else "unbilled")
    response = http.call("POST", url, scope=GRAPH_SCOPE, json_body=body, what=what)
    location = str(response.headers.get("Location") or "")
    if response.status_code != 202 or not location.startswith("http"):
        raise MalformedResponseError(
            f"{what} was answered {response.status_code} without an operation Location",
            status=response.status_code,
            url=url,
        )
    return location


def wait(
    http: MicrosoftHttp,
    operation_url: str,
    what: str,
    *,
    on_poll: Callable[[str], None] | None = None,
) -> Outcome:
    """Poll until the operation ends, sleeping as Retry-After asks, up to the deadline."""
    deadline = http.clock() + http.settings.poll_deadline_s
    while True:
        response = http.call("GET", operation_url, scope=GRAPH_SCOPE, what=f"{what}'s operation")
        body = parse_json(response, operation_url, f"{what}'s operation")
        if not isinstance(body, dict):
            raise MalformedResponseError(f"{what}'s operation is not an object", url=operation_url)
        status = str(body.get("status", "")).strip()
        if on_poll is not None:
            on_poll(status)
        if status == "succeeded":
            return _succeeded(body, operation_url, what)
        if status == "failed":
            found = body.get("error")
            error: dict[str, Any] = found if isinstance(found, dict) else {}
            code, message = str(error.get("code", "")), str(error.get("message", ""))
            if code == NO_DATA_CODE or message.strip().lower() == "no data available":
                return NoData()
            raise ExportFailedError(
                f"{what} failed: {code or '?'} {message or '(no message)'}", url=operation_url
            )
        if status not in ("notStarted", "running"):
            raise MalformedResponseError(
                f"{what}'s operation has an unknown status {status!r}", url=operation_url
            )
        delay = retry_after(response, default=_DEFAULT_POLL_S)
        if http.clock() + delay > deadline:
            raise OperationTimeoutError(
                f"{what} was still {status} after {http.settings.poll_deadline_s:.0f} s"
                " (partner_center.poll_deadline_s); the next pull resumes it",
                url=operation_url,
            )
        http.sleep(delay)


def _succeeded(body: dict[str, Any], url: str, what: str) -> Succeeded:
    link = body.get("resourceLocation@odata.navigationLink")
    if isinstance(link, str) and link.startswith("http"):
        return Succeeded(link, None)
    inline = body.get("resourceLocation")
    if isinstance(inline, dict):
        return Succeeded(None, parse_manifest(inline, url, what))
    if isinstance(inline, str) and inline.startswith("http"):
        return Succeeded(inline, None)
    raise MalformedResponseError(f"{what} succeeded without a manifest location", url=url)


def fetch_manifest(http: MicrosoftHttp, url: str, what: str) -> Manifest:
    response = http.call("GET", url, scope=GRAPH_SCOPE, what=f"{what}'s manifest")
    return parse_manifest(parse_json(response, url, f"{what}'s manifest"), url, what)


def parse_manifest(body: Any, url: str, what: str) -> Manifest:
    try:
        manifest = Manifest.model_validate(body)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'manifest'}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        )
        raise MalformedResponseError(
            f"{what}'s manifest is malformed: {problems}", url=url
        ) from None
    if manifest.blobCount != len(manifest.blobs):
        raise MalformedResponseError(
            f"{what}'s manifest says blobCount {manifest.blobCount} but lists"
            f" {len(manifest.blobs)} blobs",
            url=url,
        )
    return manifest


@dataclass(frozen=True)
class BlobSpan:
    """Lines `first`..`last` of the downloaded file came from blob `name`."""

    name: str
    first: int
    last: int


def download(
    http: MicrosoftHttp, manifest: Manifest, target: BinaryIO, what: str
) -> list[BlobSpan]:
    """Every blob gunzipped into `target` as JSON lines; where each blob's lines landed."""
    spans: list[BlobSpan] = []
    line = 0
    for blob in manifest.blobs:
        url = manifest.blob_url(blob)
        sink = _LineSink(target)
        with http.blob(url, blob.name) as response:
            # ISA-L inflates 2-3x faster than zlib (the pull's biggest single cost)
            inflater = isal_zlib.decompressobj(wbits=31)
            partial = False  # bytes of a gzip member were read but its end was not
            try:
                for chunk in response.iter_raw(_CHUNK):
                    while chunk:
                        partial = True
                        sink.write(inflater.decompress(chunk))
                        chunk = b""
                        if inflater.eof:
                            # the next gzip member (several in one blob are allowed)
                            chunk = inflater.unused_data
                            inflater = isal_zlib.decompressobj(wbits=31)
                            partial = False
            except _INFLATE_ERROR as exc:
                raise MalformedResponseError(
                    f"blob {blob.name} of {what} is not valid gzip: {exc}", url=url
                ) from None
            if partial:
                raise MalformedResponseError(
                    f"blob {blob.name} of {what} ends in the middle of its gzip stream"
                    " (truncated download?)",
                    url=url,
                )
        lines = sink.finish(blob.name, what, url)
        spans.append(BlobSpan(blob.name, line + 1, line + lines))
        line += lines
    return spans


class _LineSink:
    """Writes JSON lines through; a blob holding one JSON array is split into lines."""

    def __init__(self, target: BinaryIO) -> None:
        self._target = target
        self._mode: Literal["?", "lines", "array"] = "?"
        self._array = bytearray()
        self._lines = 0
        self._last = b"\n"

    def write(self, data: bytes) -> None:
        if not data:
            return
        if self._mode == "?":
            stripped = data.lstrip()
            if not stripped:
                return
            self._mode = "array" if stripped[:1] == b"[" else "lines"
            data = stripped
        if self._mode == "array":
            self._array += data
            return
        self._target.write(data)
        self._lines += newlines(data)
        self._last = data[-1:]

    def finish(self, name: str, what: str, url: str) -> int:
        if self._mode == "array":
            try:
                # numbers kept as their text: exact, and the reader reads numbers written as text
                items = json.loads(bytes(self._array), parse_float=str)
            except ValueError as exc:
                raise MalformedResponseError(
                    f"blob {name} of {what} is not JSON: {exc}", url=url
                ) from None
            if not isinstance(items, list):
                raise MalformedResponseError(f"blob {name} of {what} is not a JSON list", url=url)
            for item in items:
                self._target.write(json.dumps(item).encode("utf-8") + b"\n")
            return len(items)
        if self._last != b"\n":
            self._target.write(b"\n")
            self._lines += 1
        return self._lines


def blob_of(spans: list[BlobSpan], line: int) -> tuple[str, int] | None:
    """The blob and its own line number of a line of the downloaded file."""
    for span in spans:
        if span.first <= line <= span.last:
            return span.name, line - span.first + 1
    return None
