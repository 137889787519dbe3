"""URL settings: parsed, not pattern-matched, and refused without repeating what was typed
(a secret pasted into the wrong setting must not come back in the error)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from billbridge.config import Settings, SettingsError

SECRET = "sandbox-partner-secret"
URL_SETTINGS = (
    "partner_center.authority_url",
    "partner_center.graph_url",
    "partner_center.api_url",
    "autotask.zone_lookup_url",
)
# Each malformed form, with a word its problem must use.
MALFORMED = {
    "secret as port": (f"http://127.0.0.1:{SECRET}/microsoft/login", "port"),
    "secret as bracketed host": (f"http://[{SECRET}]/x", "IPv6"),
    "user info": (f"http://bb:{SECRET}@127.0.0.1:8811/microsoft/login", "password"),
    "user name only": (f"http://{SECRET}@127.0.0.1:8811/microsoft/login", "user name"),
    "space": (f"http://127.0.0.1:8811/microsoft/login {SECRET}", "spaces"),
    "line break": (f"http://127.0.0.1:8811/microsoft/login\n{SECRET}", "line breaks"),
    "control character": (f"http://127.0.0.1:8811/login\x00{SECRET}", "control characters"),
    "fragment": (f"http://127.0.0.1:8811/microsoft/login#{SECRET}", "fragment"),
    "query": (f"http://127.0.0.1:8811/microsoft/login?key={SECRET}", "query"),
    "port out of range": ("http://127.0.0.1:99999/microsoft/login", "port"),
    "port zero": ("http://127.0.0.1:0/microsoft/login", "port"),
    "no host": ("http://:8811/microsoft/login", "host"),
    "bad host": (f"http://{SECRET}%41/x", "host"),
    "other scheme": (f"ftp://{SECRET}.example/x", "http(s)"),
    "no scheme": (f"{SECRET}.example/x", "http(s)"),
}


def _toml(key: str, value: str) -> str:
    section, name = key.split(".")
    # A JSON string is a TOML basic string, with line breaks and NULs escaped as TOML wants.
    return f"[{section}]\n{name} = {json.dumps(value)}\n"


@pytest.mark.parametrize("key", URL_SETTINGS)
@pytest.mark.parametrize("form", MALFORMED)
def test_a_malformed_url_is_refused_naming_the_setting_never_the_value(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, key: str, form: str
) -> None:
    value, word = MALFORMED[form]
    path = tmp_path / "b.toml"
    path.write_text(_toml(key, value), encoding="utf-8")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(SettingsError) as raised:
        Settings.load(path, environ={})
    assert len(raised.value.problems) == 1
    problem = raised.value.problems[0]
    assert problem.startswith(f"{key}: ") and word in problem
    assert f"(from {path})" in problem
    for shown in (str(raised.value), repr(raised.value), caplog.text):
        assert SECRET not in shown


@pytest.mark.parametrize("key", URL_SETTINGS)
def test_a_malformed_url_from_the_environment_names_the_variable(tmp_path: Path, key: str) -> None:
    variable = f"BILLBRIDGE_{key.replace('.', '_').upper()}"
    value = MALFORMED["secret as port"][0]
    with pytest.raises(SettingsError) as raised:
        Settings.load(tmp_path / "none.toml", environ={variable: value})
    problems = [p for p in raised.value.problems if p.startswith(f"{key}:")]
    assert problems and f"(from {variable})" in problems[0]
    assert SECRET not in str(raised.value)


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        ("https://login.microsoftonline.com/", "https://login.microsoftonline.com"),
        ("http://127.0.0.1:8765/atservicesrest/", "http://127.0.0.1:8765/atservicesrest"),
        ("http://[::1]:8811/microsoft/login", "http://[::1]:8811/microsoft/login"),
        ("HTTPS://graph.microsoft.com", "HTTPS://graph.microsoft.com"),
        ("https://xn--mnchen-3ya.example", "https://xn--mnchen-3ya.example"),
        ("http://localhost:8811", "http://localhost:8811"),
    ],
)
def test_a_well_formed_url_is_kept_without_its_trailing_slash(
    tmp_path: Path, value: str, kept: str
) -> None:
    empty = tmp_path / "b.toml"
    empty.write_text("", encoding="utf-8")
    for key in URL_SETTINGS:
        section, name = key.split(".")
        variable = f"BILLBRIDGE_{section}_{name}".upper()
        loaded = Settings.load(empty, environ={variable: value})
        assert getattr(getattr(loaded, section), name) == kept


@pytest.mark.parametrize("form", ["secret as port", "user info", "space"])
def test_the_cli_refuses_a_malformed_url_with_exit_2_and_no_traceback(
    tmp_path: Path, form: str
) -> None:
    value = MALFORMED[form][0]
    config = tmp_path / "b.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "b.db"}"\n'
        f'[partner_center]\ntenant_id = "t"\nclient_id = "c"\nclient_secret = "{SECRET}"\n'
        f'authority_url = "{value}"\n',
        encoding="utf-8",
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith("BILLBRIDGE_")}
    done = subprocess.run(
        [sys.executable, "-m", "billbridge", "--config", str(config), "pull", "partner-center"],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "partner_center.authority_url:" in done.stderr
    assert "Traceback" not in done.stderr
    assert SECRET not in done.stdout + done.stderr
