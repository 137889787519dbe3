"""Settings: `billbridge.toml`, overridden key by key by `BILLBRIDGE_<SECTION>_<KEY>`.

Every problem is collected and reported at once, naming the key (and the environment variable
when that is where the value came from), before any command runs. Secret values are held as
`SecretStr`, so they never show in a repr, a log line or an error message.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import time
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from billbridge.domain.subscription import SubscriptionType
from billbridge.hosts import HOST_NAME, IPV6_ADDRESS

DEFAULT_FILE = "billbridge.toml"

FieldSetting = bool | int | str
"""A value of an `[export.*_fields]` table: a picklist label or id, a text, a number, a flag."""
ENV_FILE = "BILLBRIDGE_CONFIG"
ENV_PREFIX = "BILLBRIDGE_"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


DATABASE_KINDS = ("sqlite", "postgresql")
_URL_SHAPE = "sqlite:///FILE or postgresql+psycopg://USER:PASSWORD@HOST:PORT/DATABASE"
_SCHEME = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://(?P<rest>.*)$", re.DOTALL)


class DatabaseSettings(_Section):
    url: str = Field(default="sqlite:///billbridge.db", repr=False)
    """May carry a database password, so it is kept out of reprs; show `safe_url` instead."""

    @field_validator("url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        # A message about a bad URL must not echo the password, or a piece of it.
        problem = database_url_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @property
    def safe_url(self) -> str:
        try:
            return make_url(self.url).render_as_string(hide_password=True)
        except (ArgumentError, ValueError):
            return masked_url_text(self.url)


def database_url_problem(url: str) -> str | None:
    """Why `url` cannot be a state store URL (never quoting its password), or None."""
    match = _SCHEME.match(url.strip())
    if match is None:
        return f"must look like {_URL_SHAPE} (is the '//' after the scheme missing?)"
    scheme, rest = match["scheme"], match["rest"]
    kind = scheme.split("+", 1)[0].lower()
    if kind not in DATABASE_KINDS:
        return f"'{scheme}' is not a database kind billbridge knows; use {_URL_SHAPE}"
    authority = rest.split("?", 1)[0]
    if authority.count("@") > 1:
        return (
            "has more than one '@': write an '@' in the user name or password as %40"
            f" ({masked_url_text(url)})"
        )
    if "@" in authority:
        userinfo = authority.rsplit("@", 1)[0]
        if "/" in userinfo:
            return "the user name or password contains '/': write it as %2F"
        if userinfo.count(":") > 1:
            return f"the password contains ':': write it as %3A ({masked_url_text(url)})"
    try:
        parsed = make_url(url.strip())
        port = parsed.port
    except (ArgumentError, ValueError):
        # The port is the usual culprit; the text after the host could be a password typed
        # where the port goes, so it is not repeated.
        return f"is not a database URL (the port must be a number); use {_URL_SHAPE}"
    if port is not None and not 1 <= port <= 65535:
        return f"port {port} is not between 1 and 65535"
    return None


def masked_url_text(url: str) -> str:
    """`url` with everything between the user name and the last '@' hidden, whatever its
    shape: for URLs that do not parse, where the parser cannot say what the password is."""
    match = re.match(r"^([^:/?#@]*:/*)(.*)$", url, re.DOTALL)
    head, rest = (match[1], match[2]) if match else ("", url)
    at = rest.rfind("@")
    shown = ""
    if at >= 0:
        user, colon, _ = rest[:at].partition(":")
        shown = f"{user}{':***' if colon else ''}@"
    host, slash, path = rest[at + 1 :].partition("/")
    name, colon, port = host.rpartition(":")
    if colon and not port.isdigit():  # a password typed where the port goes
        host = f"{name}:***"
    return f"{head}{shown}{host}{slash}{path}"


def mask_database_url(text: str, url: str) -> str:
    """`text` with the password of `url` (and each piece a parser may have split off it)
    replaced by ***, for messages that quote what a database driver said."""
    rest = url.split("://", 1)[-1]
    at = rest.rfind("@")
    pieces: set[str] = set()
    _, colon, password = rest[:at].partition(":") if at >= 0 else ("", "", "")
    if colon and password:
        pieces.update((password, unquote(password)), re.split(r"[@:/]", password))
    _, has_port, port = rest[at + 1 :].partition("/")[0].rpartition(":")
    if has_port and port and not port.isdigit():  # a password typed where the port goes
        pieces.add(port)
    for piece in sorted(pieces, key=len, reverse=True):
        if len(piece) >= 3:
            text = text.replace(piece, "***")
    return text


def http_url_problem(url: str) -> str | None:
    """Why `url` cannot be the base URL of a service billbridge calls, or None.

    The answer never quotes `url` or a piece of it: a secret pasted into the wrong place lands
    in exactly the part that fails to parse (a port, a host, a user name), and the parser's own
    messages repeat that part.
    """
    if any(char.isspace() or not char.isprintable() for char in url):
        return "must not contain spaces, tabs, line breaks or other control characters"
    scheme, separator, _ = url.partition("://")
    if not separator or scheme.lower() not in ("http", "https"):
        return "must be an http(s) URL: start it with https:// (or http://)"
    try:
        parts = urlsplit(url)
    except ValueError:
        return "is not a valid URL: the address in [brackets] is not an IPv6 address"
    if "@" in parts.netloc:
        return (
            "must not carry a user name or password (the part before '@'); billbridge sends"
            " credentials from their own settings"
        )
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        return "has a port that is not a number between 1 and 65535"
    if not host:
        return "has no host name after the scheme"
    if not (IPV6_ADDRESS.fullmatch(host) if ":" in host else HOST_NAME.fullmatch(host)):
        return "has a host that is neither a host name nor an IP address"
    if port is not None and not 1 <= port <= 65535:
        return "has a port that is not a number between 1 and 65535"
    if "?" in url:
        # Paths are appended to these URLs; a query would swallow them.
        return "must not have a query ('?...'): give the base URL only"
    if "#" in url:
        return "must not have a fragment ('#...'): give the base URL only"
    return None


def _base_url(value: str) -> str:
    problem = http_url_problem(value)
    if problem:
        raise ValueError(problem)
    return value.rstrip("/")


class AutotaskSettings(_Section):
    zone_lookup_url: str = "https://webservices.autotask.net/atservicesrest"
    username: str | None = None
    secret: SecretStr | None = None
    integration_code: SecretStr | None = None
    subscription_udf: str = "Subscription ID"
    impersonation_resource_id: int | None = None
    threshold_share: float = Field(default=0.5, gt=0, le=1)
    """Share of the tenant's hourly request threshold billbridge may use; the rest is left to
    the other integrations of the tenant."""
    unit_decimals: int = Field(default=4, ge=0, le=8)
    """Decimals the tenant keeps for unit money fields (`unitCost`, `unitPrice`); billbridge
    plans and compares at this precision. `billbridge doctor --canary` shows what it keeps."""

    @field_validator("zone_lookup_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return _base_url(value)


class ExportSettings(_Section):
    product_billing_code: str | None = None
    subscription_types: tuple[SubscriptionType, ...] = tuple(SubscriptionType)
    lag_days: int = Field(default=4, ge=0, le=366)
    check_time: time = time(2, 0)
    azure_product_name: str = Field(default="Azure Plan", min_length=1)
    contract_type: str = Field(default="Recurring Service", min_length=1)
    open_ended_years: int = Field(default=10, ge=1, le=100)
    # --- tenant fields (T-client) ---
    contract_period_type: str = Field(default="Monthly", min_length=1)
    """`contractPeriodType` of new contracts (label or id); Recurring Service needs one."""
    contract_fields: dict[str, FieldSetting] = Field(default_factory=dict)
    """`[export.contract_fields]`: field (or UDF) = value or picklist label, sent on create."""
    charge_fields: dict[str, FieldSetting] = Field(default_factory=dict)
    product_fields: dict[str, FieldSetting] = Field(default_factory=dict)

    @field_validator("contract_fields", "charge_fields", "product_fields", mode="before")
    @classmethod
    def _field_table(cls, value: Any) -> Any:
        return _field_table(value)

    # --- end tenant fields ---
    # --- export engine (T-engine) ---
    unknown_write_horizon_s: float = Field(default=300.0, gt=0, le=86_400)
    """How long a write whose outcome is unknown (a timeout, a killed export) may still land in
    Autotask; its key is not written again before. Longer than any time Autotask may take."""
    lease_s: float = Field(default=900.0, ge=10, le=86_400)
    """How long the export lease held in the tenant lasts unless renewed; a lease left by a
    crashed installation expires after this."""
    # --- end export engine ---

    @field_validator("subscription_types", mode="before")
    @classmethod
    def _split_types(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("check_time", mode="before")
    @classmethod
    def _hh_mm(cls, value: Any) -> Any:
        if isinstance(value, str):
            match = re.fullmatch(r"(\d{1,2}):(\d{2})", value.strip())
            if not match or int(match[1]) > 23 or int(match[2]) > 59:
                raise ValueError("must be a UTC time HH:MM, e.g. 02:00")
            return time(int(match[1]), int(match[2]))
        return value


class WebSettings(_Section):
    admin_password: SecretStr | None = None
    session_secret: SecretStr | None = None
    """Key that signs the login form's cookie; random per process when unset. Sessions are
    kept in the memory of `serve`, so they end when it restarts either way."""
    trusted_proxies: tuple[str, ...] = ()
    """Addresses or networks of reverse proxies whose X-Forwarded-For and X-Forwarded-Proto
    are believed; from anyone else these headers are ignored."""

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"'{entry}' is not an IP address or network (e.g. 127.0.0.1, 10.0.0.0/8)"
                ) from None
        return value


# --- reconcile settings ---
class ReconcileSettings(_Section):
    margin_floor: Decimal | None = Field(default=None, ge=-100, le=100)
    """Lowest margin, in percent of the price, a line may be sold at before it needs
    attention; unset: only lines sold below cost do."""


# --- end reconcile settings ---


# --- partner_center settings (P: pull) ---
class PartnerCenterSettings(_Section):
    """Pulling billing from Microsoft (`billbridge pull partner-center`, the daily check)."""

    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    authority_url: str = "https://login.microsoftonline.com"
    graph_url: str = "https://graph.microsoft.com"
    api_url: str = "https://api.partnercenter.microsoft.com"
    api_scope: str = "https://api.partnercenter.microsoft.com/.default"
    """Scope of the Partner Center API token (the invoice list); Graph's is fixed."""
    pull_day: int = Field(default=8, ge=1, le=28)
    """Day of the month from which the daily check pulls (invoices are ready by the 8th)."""
    history_days: int = Field(default=62, ge=1, le=3660)
    """Invoices older than this are pulled only when named with `--invoice`."""
    poll_deadline_s: float = Field(default=3600.0, gt=0, le=86400)
    """How long a pull waits for one export operation before leaving it for the next pull."""
    azure_markup: Decimal | None = Field(default=None, ge=-100, le=1000)
    license_markup: Decimal | None = Field(default=None, ge=-100, le=1000)

    @field_validator("authority_url", "graph_url", "api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return _base_url(value)

    @property
    def configured(self) -> bool:
        """True when the three credentials are set (the daily check pulls only then)."""
        return bool(self.tenant_id and self.client_id and self.client_secret)


# --- end partner_center settings ---


_SECTIONS: dict[str, type[_Section]] = {
    "database": DatabaseSettings,
    "autotask": AutotaskSettings,
    "export": ExportSettings,
    "web": WebSettings,
    "reconcile": ReconcileSettings,
    "partner_center": PartnerCenterSettings,  # P: pull
}


class SettingsError(Exception):
    """Settings that cannot be used; each problem names its key."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class Settings:
    database: DatabaseSettings
    autotask: AutotaskSettings
    export: ExportSettings
    web: WebSettings
    partner_center: PartnerCenterSettings = field(default_factory=PartnerCenterSettings)  # P
    source: Path | None = None
    """The settings file that was read, if any."""
    reconcile: ReconcileSettings = field(default_factory=ReconcileSettings)

    @classmethod
    def defaults(cls) -> Settings:
        return cls(DatabaseSettings(), AutotaskSettings(), ExportSettings(), WebSettings())

    @classmethod
    def load(cls, path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the file (explicit path, `$BILLBRIDGE_CONFIG`, or ./billbridge.toml) and env."""
        environ = os.environ if environ is None else environ
        problems: list[str] = []
        explicit = path or (Path(environ[ENV_FILE]) if environ.get(ENV_FILE) else None)
        file = explicit or Path(DEFAULT_FILE)
        data: dict[str, Any] = {}
        if file.exists():
            data = _read_toml(file, problems)
        elif explicit is not None:
            problems.append(f"{file}: settings file not found")
        for name in data:
            if name not in _SECTIONS:
                problems.append(
                    f"{name}: unknown section in {file}; expected {', '.join(_SECTIONS)}"
                )
        sections: dict[str, Any] = {}
        for name, model in _SECTIONS.items():
            raw = data.get(name, {})
            if not isinstance(raw, dict):
                problems.append(f"{name}: must be a [{name}] table in {file}")
                raw = {}
            values, origins = dict(raw), {key: str(file) for key in raw}
            for key in model.model_fields:
                variable = f"{ENV_PREFIX}{name}_{key}".upper()
                if variable in environ:
                    values[key] = environ[variable]
                    origins[key] = variable
            try:
                sections[name] = model.model_validate(values)
            except ValidationError as exc:
                problems.extend(_describe(name, exc, origins))
        if problems:
            raise SettingsError(problems)
        return cls(source=file if file.exists() else None, **sections)

    def missing(self, *keys: str) -> list[str]:
        """Problems for each `section.key` that is not set, for commands that need them."""
        problems = []
        for dotted in keys:
            section, key = dotted.split(".")
            value = getattr(getattr(self, section), key)
            variable = f"{ENV_PREFIX}{section}_{key}".upper()
            if value in (None, ""):
                problems.append(f"{dotted}: is not set (in the settings file or {variable})")
            elif isinstance(value, SecretStr) and not value.get_secret_value().strip():
                problems.append(f"{dotted}: is empty (in the settings file or {variable})")
        return problems

    def require(self, *keys: str) -> None:
        problems = self.missing(*keys)
        if problems:
            raise SettingsError(problems)

    def masked(self) -> dict[str, dict[str, str]]:
        """Every setting as display text, secrets masked, for `doctor` and the web admin."""
        shown: dict[str, dict[str, str]] = {}
        for name in _SECTIONS:
            section = getattr(self, name)
            shown[name] = {
                key: _display(getattr(section, key)) for key in type(section).model_fields
            }
        shown["database"]["url"] = self.database.safe_url
        return shown


def _field_table(value: Any) -> Any:
    """An `[export.*_fields]` table; from the environment it is a JSON object."""
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except ValueError:
            raise ValueError(
                'must be a JSON object, e.g. {"contractCategory": "Standard"}'
            ) from None
    if not isinstance(value, dict):
        raise ValueError("must be a table of field = value")
    for name, item in value.items():
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9 _.-]{0,99}", str(name)):
            raise ValueError(f"{name!r} is not an Autotask field name")
        if isinstance(item, float):
            raise ValueError(f'{name}: write a decimal number as a string, e.g. "12.50"')
        if not isinstance(item, bool | int | str):
            raise ValueError(f"{name}: must be a text, a number or true/false")
    return value


def _read_toml(file: Path, problems: list[str]) -> dict[str, Any]:
    try:
        with file.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        problems.append(f"{file}: not valid TOML: {exc}")
    except OSError as exc:
        problems.append(f"{file}: cannot be read: {exc.strerror or exc}")
    return {}


def _describe(section: str, error: ValidationError, origins: Mapping[str, str]) -> list[str]:
    problems = []
    for item in error.errors(include_input=False, include_url=False):
        key = str(item["loc"][0]) if item["loc"] else ""
        origin = origins.get(key)
        where = f" (from {origin})" if origin else ""
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown setting"
        elif item["type"] == "value_error":
            message = message.removeprefix("Value error, ")
        problems.append(f"{section}.{key}: {message}{where}")
    return problems


def _display(value: Any) -> str:
    if value is None:
        return "(not set)"
    if isinstance(value, SecretStr):
        return "********" if value.get_secret_value() else "(not set)"
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} = {v!r}" for k, v in value.items()) or "(none)"
    if isinstance(value, time):
        return value.strftime("%H:%M")
    return str(value)
