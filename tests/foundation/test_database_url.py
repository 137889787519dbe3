"""A malformed `database.url` never shows its password, a piece of it, or a traceback."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from billbridge.cli import app
from billbridge.config import (
    DatabaseSettings,
    Settings,
    SettingsError,
    mask_database_url,
    masked_url_text,
)

PASSWORD = "Hunter2Sup3r@S3cretTail:Xyz9"
PIECES = ("Hunter2Sup3r", "S3cretTail", "Xyz9", "Hunter2", "Tail")

# Each shape a person gets wrong, with the password (or its parts) where they typed it.
MALFORMED = {
    "scheme typo": "postgres+psycopg://billbridge:Hunter2Sup3rXyz9@127.0.0.1:5432/billbridge",
    "unknown scheme": "postgersql://billbridge:Hunter2Sup3rXyz9@127.0.0.1/billbridge",
    "one slash": "postgresql+psycopg:/billbridge:Hunter2Sup3rXyz9@127.0.0.1/billbridge",
    "no slashes": "postgresql+psycopg:billbridge:Hunter2Sup3rXyz9@127.0.0.1/billbridge",
    "no colon": "postgresql+psycopg//billbridge:Hunter2Sup3rXyz9@127.0.0.1/billbridge",
    "port not a number": "postgresql+psycopg://billbridge:Hunter2Sup3rXyz9@127.0.0.1:54x2/b",
    "password where the port goes": "postgresql+psycopg://billbridge@127.0.0.1:Hunter2Sup3r/b",
    "port out of range": "postgresql+psycopg://billbridge:Hunter2Sup3rXyz9@127.0.0.1:99999/b",
    "unescaped @": "postgresql+psycopg://billbridge:Hunter2Sup3r@S3cretTail@127.0.0.1/b",
    "unescaped :": "postgresql+psycopg://billbridge:Hunter2Sup3r:S3cretTail@127.0.0.1/b",
    "unescaped @ and :": f"postgresql+psycopg://billbridge:{PASSWORD}@127.0.0.1/b",
    "unescaped /": "postgresql+psycopg://billbridge:Hunter2/Sup3rXyz9@127.0.0.1/b",
}


def _clean(text: str) -> None:
    for piece in PIECES:
        assert piece not in text, text
    assert "Traceback" not in text, text


@pytest.mark.parametrize("url", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_url_is_a_settings_error_that_hides_the_password(
    url: str, tmp_path: Path
) -> None:
    empty = tmp_path / "billbridge.toml"
    empty.write_text("")
    with pytest.raises(SettingsError) as caught:
        Settings.load(empty, environ={"BILLBRIDGE_DATABASE_URL": url})
    text = "\n".join(caught.value.problems)
    assert text.startswith("database.url: ") and "(from BILLBRIDGE_DATABASE_URL)" in text
    _clean(text)


@pytest.mark.parametrize("url", MALFORMED.values(), ids=MALFORMED.keys())
@pytest.mark.parametrize("command", [["runs"], ["doctor"], ["plan", "--due"], ["serve"]])
def test_no_command_prints_the_password_of_a_malformed_url(
    url: str, command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BILLBRIDGE_DATABASE_URL", url)
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "database.url" in result.output
    _clean(result.output)


def test_a_store_that_cannot_be_opened_is_named_without_its_password(tmp_path: Path) -> None:
    # A well-formed URL to a server that refuses the user: the driver's message is shown.
    url = "postgresql+psycopg://nobody-here:Hunter2Sup3rXyz9@127.0.0.1:5432/nothing"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BILLBRIDGE_")}
    done = subprocess.run(
        [sys.executable, "-m", "billbridge", "runs"],
        capture_output=True,
        text=True,
        env={**env, "BILLBRIDGE_DATABASE_URL": url},
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "cannot open the state store postgresql+psycopg://nobody-here:***@127.0.0.1" in (
        done.stderr
    )
    _clean(done.stdout + done.stderr)


def test_the_settings_shown_mask_the_password() -> None:
    good = DatabaseSettings(url="postgresql+psycopg://u:Hunter2Sup3rXyz9@db.example:5432/b")
    assert good.safe_url == "postgresql+psycopg://u:***@db.example:5432/b"
    settings = dataclasses.replace(Settings.defaults(), database=good)
    assert settings.masked()["database"]["url"] == "postgresql+psycopg://u:***@db.example:5432/b"
    _clean(repr(settings))


def test_masking_works_whatever_the_shape() -> None:
    for url in MALFORMED.values():
        _clean(masked_url_text(url))
        _clean(mask_database_url(f"could not connect to {url}: no", url))
    assert masked_url_text("sqlite:///state.db") == "sqlite:///state.db"
    # What a parser may have split off the password (host 'S3cretTail@127.0.0.1') is hidden.
    message = "failed to resolve host 'S3cretTail@127.0.0.1'"
    url = MALFORMED["unescaped @"]
    assert mask_database_url(message, url) == "failed to resolve host '***@127.0.0.1'"
