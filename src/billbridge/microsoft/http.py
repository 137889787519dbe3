"""HTTP to Microsoft: app tokens by client credentials, cached per scope, and requests (the
token requests too) that wait out 429s and 503s as `Retry-After` asks (bounded), with every
error response mapped in one place.

The secret goes only into the body of the token request; tokens only into the Authorization
header. Neither is logged, and error messages carry URLs as `shown_url` leaves them (no query,
no user info); a URL that cannot even be requested is not quoted at all.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from billbridge.microsoft.errors import (
    CredentialsError,
    MalformedResponseError,
    MicrosoftError,
    MissingPermissionError,
    SasExpiredError,
    ThrottledError,
    UnavailableError,
    UrlSettingError,
    shown_url,
)
from billbridge.microsoft.settings import MicrosoftSettings

logger = logging.getLogger(__name__)

_TOKEN_MARGIN_S = 120.0
_MAX_TEXT = 300
_TRANSPORT_TRIES = 3
_MAX_RETRY_AFTER_S = 120.0
_THROTTLED = (429, 503)
# httpx refuses a malformed URL before sending anything: retrying cannot help.
_UNUSABLE_URL = (httpx.InvalidURL, httpx.UnsupportedProtocol)
# Entra ID error codes and the setting each one means is wrong.
_AADSTS_SETTING = {
    "7000215": "partner_center.client_secret is wrong (use the secret's value, not its id)",
    "7000222": "partner_center.client_secret has expired; create a new one",
    "700016": "partner_center.client_id is not an app registered in the tenant",
    "90002": "partner_center.tenant_id is not a Microsoft Entra tenant",
    "900023": "partner_center.tenant_id is not a valid tenant id",
    "70011": "the scope is not valid (partner_center.api_scope?)",
}


class _NoSasInLogs(logging.Filter):
    """httpx logs each request's URL at INFO: a blob's carries its SAS token, a credential,
    and a URL Microsoft returned could carry user info."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_loggable(a) for a in record.args)
        return True


def _loggable(arg: object) -> object:
    text = str(arg)
    if "://" not in text:
        return arg
    if "sig=" in text:
        return shown_url(text) + "?(SAS hidden)"
    if "@" in text.split("://", 1)[1].split("/", 1)[0]:
        return shown_url(text)
    return arg


logging.getLogger("httpx").addFilter(_NoSasInLogs())


@dataclass
class _Token:
    value: str
    expires: float


class MicrosoftHttp:
    """One connection pool to Microsoft (Entra ID, Partner Center, Graph, blob storage)."""

    def __init__(
        self,
        settings: MicrosoftSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.sleep = sleep
        self.clock = clock
        self.requests = 0
        self._tokens: dict[str, _Token] = {}
        self._http = httpx.Client(
            transport=transport,
            timeout=httpx.Timeout(settings.timeout_s, connect=15.0),
            follow_redirects=False,
            headers={"User-Agent": "billbridge"},
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> MicrosoftHttp:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- tokens -------------------------------------------------------------------------------

    def token(self, scope: str) -> str:
        """An app token for `scope`, from the cache until shortly before it expires."""
        cached = self._tokens.get(scope)
        if cached is not None and cached.expires > self.clock():
            return cached.value
        url = self.settings.token_url
        form = {
            "grant_type": "client_credentials",
            "client_id": self.settings.client_id,
            "client_secret": self.settings.client_secret.get_secret_value(),
            "scope": scope,
        }
        waited = 0.0
        # Asking for a token changes nothing at Microsoft: repeating it is always safe.
        response = self._send("POST", url, data=form)
        while response.status_code in _THROTTLED:
            waited = self._wait_out(response, "the app token request", url, waited)
            response = self._send("POST", url, data=form)
        if response.status_code != 200:
            raise _token_error(response, url)
        body = _json(response, url, "token response")
        value, lifetime = body.get("access_token"), body.get("expires_in")
        if not isinstance(value, str) or not value:
            raise MalformedResponseError("the token response has no access_token", url=url)
        try:
            seconds = float(str(lifetime))
        except ValueError:
            seconds = 300.0
        self._tokens[scope] = _Token(value, self.clock() + max(seconds - _TOKEN_MARGIN_S, 30.0))
        return value

    # -- API requests -------------------------------------------------------------------------

    def call(
        self,
        method: str,
        url: str,
        *,
        scope: str,
        json_body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        what: str,
    ) -> httpx.Response:
        """A Graph or Partner Center request: 2xx, or the mapped error. `what` names the
        request in messages ("the invoice list")."""
        renewed = False
        waited = 0.0
        while True:
            headers = {"Authorization": f"Bearer {self.token(scope)}", "Accept": "application/json"}
            response = self._send(method, url, headers=headers, json=json_body, params=params)
            if response.status_code == 401 and not renewed:
                self._tokens.pop(scope, None)  # expired early or revoked: one fresh token
                renewed = True
                continue
            if response.status_code in _THROTTLED:
                waited = self._wait_out(response, what, url, waited)
                continue
            if response.status_code >= 400:
                raise _api_error(response, url, what)
            return response

    def _wait_out(self, response: httpx.Response, what: str, url: str, waited: float) -> float:
        """Sleep as a 429 or 503 `response` asks and return the seconds waited so far for this
        request; `ThrottledError` once that would pass `throttle_wait_s`."""
        delay = retry_after(response, default=5.0)
        if waited + delay > self.settings.throttle_wait_s:
            raise ThrottledError(
                f"Microsoft kept throttling {what} for {waited:.0f} s; pull again later",
                status=response.status_code,
                url=url,
            )
        logger.info("%s throttled; waiting %.1f s as Retry-After asks", what, delay)
        self.sleep(delay)
        return waited + delay

    @contextmanager
    def blob(self, url: str, name: str) -> Iterator[httpx.Response]:
        """A blob's response, streaming (no token: the SAS in the URL authorises it)."""
        for attempt in range(1, _TRANSPORT_TRIES + 1):
            try:
                with self._http.stream("GET", url) as response:
                    self.requests += 1
                    if response.status_code == 403:
                        response.read()
                        raise SasExpiredError(
                            f"the blob storage refused {name}: {_azure_text(response)}",
                            status=403,
                            url=url,
                        )
                    if response.status_code >= 400:
                        response.read()
                        error = _api_error(response, url, f"blob {name}")
                        if not error.retriable or attempt == _TRANSPORT_TRIES:
                            raise error
                        continue
                    yield response
                    return
            except _UNUSABLE_URL:
                raise self._unusable_url(url) from None
            except httpx.TransportError as exc:
                if attempt == _TRANSPORT_TRIES:
                    raise UnavailableError(
                        f"blob {name} could not be downloaded: {exc}", url=url
                    ) from None
                self.sleep(float(attempt))

    def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        for attempt in range(1, _TRANSPORT_TRIES + 1):
            try:
                response = self._http.request(method, url, **kwargs)
                self.requests += 1
                return response
            except _UNUSABLE_URL:
                raise self._unusable_url(url) from None
            except httpx.TransportError as exc:
                # A lost export request at worst starts an export twice (harmless: Microsoft
                # keeps the operation, billbridge polls the one it recorded).
                if attempt == _TRANSPORT_TRIES:
                    raise UnavailableError(
                        f"Microsoft could not be reached: {type(exc).__name__}: {exc}", url=url
                    ) from None
                self.sleep(float(attempt))
        raise AssertionError("unreachable")

    def _unusable_url(self, url: str) -> MicrosoftError:
        """What a URL httpx refuses to request means, without quoting it: the part that
        fails to parse may be a secret pasted into the wrong setting."""
        settings = self.settings
        shape = "an http(s) URL with a host and, if any, a numeric port"
        if url.startswith(f"{settings.authority_url}/"):
            return UrlSettingError(
                "the token URL is not a valid URL: check partner_center.authority_url (it must"
                f" be {shape}) and partner_center.tenant_id"
            )
        for key, base in (("graph_url", settings.graph_url), ("api_url", settings.api_url)):
            if url.startswith(base):
                return UrlSettingError(
                    f"a URL built from partner_center.{key} is not a valid URL: it must be {shape}"
                )
        return MalformedResponseError("Microsoft returned a URL that is not a valid URL")


def retry_after(response: httpx.Response, *, default: float) -> float:
    """Seconds the `Retry-After` header asks for (seconds or an HTTP date), bounded."""
    text = response.headers.get("Retry-After", "").strip()
    if not text:
        return default
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return default
        seconds = moment.timestamp() - time.time()
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER_S)


def parse_json(response: httpx.Response, url: str, what: str) -> Any:
    """The body as JSON with exact decimals, or `MalformedResponseError`."""
    try:
        return json.loads(response.content, parse_float=Decimal)
    except ValueError:
        raise MalformedResponseError(
            f"{what} is not JSON: {response.text[:_MAX_TEXT]!r}",
            status=response.status_code,
            url=url,
        ) from None


def _json(response: httpx.Response, url: str, what: str) -> dict[str, Any]:
    body = parse_json(response, url, what)
    if not isinstance(body, dict):
        raise MalformedResponseError(f"{what} is not a JSON object", url=url)
    return body


def _token_error(response: httpx.Response, url: str) -> MicrosoftError:
    try:
        body = json.loads(response.content)
    except ValueError:
        body = {}
    description = str(body.get("error_description") or response.text)[:_MAX_TEXT]
    code = description[6:].split(":", 1)[0] if description.startswith("AADSTS") else ""
    fix = _AADSTS_SETTING.get(code)
    if fix is None and response.status_code >= 500:
        return UnavailableError(f"Microsoft Entra ID failed: {description}", url=url)
    if not code and response.status_code == 404:
        # Entra ID answers an unknown tenant with 400 AADSTS90002; a bare 404 means the URL
        # does not lead to Entra ID's token endpoint at all.
        return UrlSettingError(
            "there is no token endpoint at this URL: check partner_center.authority_url"
            " (normally https://login.microsoftonline.com, without the tenant or a path)",
            status=404,
            url=url,
        )
    fix = fix or "check partner_center.tenant_id, client_id and client_secret"
    return CredentialsError(
        f"Microsoft refused the app token: {fix}. Microsoft said: {description}",
        status=response.status_code,
        url=url,
    )


def _api_error(response: httpx.Response, url: str, what: str) -> MicrosoftError:
    code, message = _graph_text(response)
    status = response.status_code
    said = f"Microsoft said: {code + ': ' if code else ''}{message}"
    if status == 403:
        return MissingPermissionError(
            f"Microsoft refused {what}: the app registration needs the application permission"
            " PartnerBilling.Read.All (Microsoft Graph, with admin consent) and access to the"
            f" Partner Center API. {said}",
            status=status,
            url=url,
        )
    if status == 401:
        return CredentialsError(
            f"Microsoft refused the app token for {what}: check partner_center.tenant_id,"
            f" client_id, client_secret and api_scope. {said}",
            status=status,
            url=url,
        )
    if status >= 500 or status == 408:
        return UnavailableError(f"Microsoft failed on {what}. {said}", status=status, url=url)
    return MalformedResponseError(f"Microsoft rejected {what}. {said}", status=status, url=url)


def _graph_text(response: httpx.Response) -> tuple[str, str]:
    """Microsoft's error code and text: Graph's `{"error": {"code", "message"}}`, or Partner
    Center's `{"code", "description", "source"}` ("Partner Center REST error codes")."""
    try:
        body = json.loads(response.content)
    except ValueError:
        return "", response.text[:_MAX_TEXT]
    if not isinstance(body, dict):
        return "", response.text[:_MAX_TEXT]
    error = body.get("error")
    if isinstance(error, dict):
        return str(error.get("code") or ""), str(error.get("message") or "")[:_MAX_TEXT]
    if "description" in body:
        return str(body.get("code") or ""), str(body.get("description") or "")[:_MAX_TEXT]
    return "", response.text[:_MAX_TEXT]


def _azure_text(response: httpx.Response) -> str:
    text = response.text
    for tag in ("AuthenticationErrorDetail", "Message"):
        start, end = text.find(f"<{tag}>"), text.find(f"</{tag}>")
        if 0 <= start < end:
            return text[start + len(tag) + 2 : end].split("\n", 1)[0][:_MAX_TEXT]
    return text[:_MAX_TEXT]
