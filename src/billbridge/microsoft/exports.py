"""Graph's billing exports: start one, poll its operation, read its manifest, fetch its blobs.

`POST {graph_url}/v1.0/reports/partners/billing/{reconciliation,usage}/billed/export` answers
202 with the operation's URL in `Location`. The operation is polled as its `Retry-After` asks
until `succeeded` (the manifest at `resourceLocation@odata.navigationLink`, or inline in
`resourceLocation`) or `failed` (code 5000, "No data available", is an empty export, not an
error). Each blob, `{rootDirectory}/{name}?{sasToken}`, is gzipped JSON lines (schema "1" or
"2"; `compressedJSONLines`, or `compressedJSON` whose blob may be one JSON array); it is streamed
to a file of its own as it comes, still gzipped: the Partner Center reader inflates it as it reads
(a month's JSON lines are 7x their gzipped size: 1.7 GB per million rows would cost more to write
and read back than to inflate), checks it and numbers its lines, so a month never sits in memory.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from billbridge.microsoft.errors import (
    ExportFailedError,
    MalformedResponseError,
    OperationTimeoutError,
)
from billbridge.microsoft.http import MicrosoftHttp, parse_json, retry_after
from billbridge.microsoft.settings import GRAPH_SCOPE

logger = logging.getLogger(__name__)

Kind = Literal["reconciliation", "usage"]
KINDS: tuple[Kind, ...] = ("reconciliation", "usage")
NO_DATA_CODE = "5000"
_CHUNK = 1 << 20
_MAX_BLOBS = 10_000
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=/-]*$")
_DEFAULT_POLL_S = 10.0
_GZIP_MAGIC = b"\x1f\x8b"


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
        status = _status(body)
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


_STATES = ("succeeded", "failed", "notStarted", "running")
_ENDED = {
    "#microsoft.graph.partners.billing.exportSuccessOperation": "succeeded",
    "#microsoft.graph.partners.billing.failedOperation": "failed",
}
"""An ended operation's `@odata.type`, for a `status` of none of `_STATES`."""


def _status(body: dict[str, Any]) -> str:
    """The operation's state. Graph's examples write a finished export `succeeded` while its
    operation resource lists `completed` instead: both mean success. A status of neither
    reading (`unknownFutureValue`) is settled by the operation's `@odata.type` if it can be."""
    status = str(body.get("status", "")).strip()
    if status == "completed":
        return "succeeded"
    if status in _STATES:
        return status
    return _ENDED.get(str(body.get("@odata.type", "")), status)


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
class BlobFile:
    """Blob `name` of a manifest, downloaded (gzipped, as served) to `path`."""

    name: str
    path: Path


def download(
    http: MicrosoftHttp,
    manifest: Manifest,
    directory: Path,
    prefix: str,
    what: str,
    *,
    on_blob: Callable[[int], None] | None = None,
) -> list[BlobFile]:
    """Every blob streamed, as served, to a file of `directory` (`{prefix}-{n}.json.gz`: the
    blobs' own names are Microsoft's paths), `on_blob` told the number of each as it starts.
    A blob that is not gzip fails here; a broken or truncated gzip stream fails when the
    reader inflates it, naming the blob and line."""
    files: list[BlobFile] = []
    for number, blob in enumerate(manifest.blobs, 1):
        if on_blob is not None:
            on_blob(number)
        url = manifest.blob_url(blob)
        path = directory / f"{prefix}-{number}.json.gz"
        with http.blob(url, blob.name) as response, path.open("wb") as target:
            head = b""
            for chunk in response.iter_raw(_CHUNK):
                if len(head) < len(_GZIP_MAGIC):
                    head += chunk[: len(_GZIP_MAGIC) - len(head)]
                    if len(head) == len(_GZIP_MAGIC) and head != _GZIP_MAGIC:
                        raise MalformedResponseError(
                            f"blob {blob.name} of {what} is not valid gzip: it does not start"
                            " with gzip's magic bytes",
                            url=url,
                        )
                target.write(chunk)
        if head and head != _GZIP_MAGIC:  # a blob of one byte
            raise MalformedResponseError(f"blob {blob.name} of {what} is not valid gzip", url=url)
        files.append(BlobFile(blob.name, path))
    return files
