"""Settings: file, environment, every problem at once, secrets never shown."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from billbridge.config import Settings, SettingsError
from billbridge.domain.subscription import SubscriptionType


def test_defaults_when_there_is_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings.load(environ={})
    assert settings.database.url == "sqlite:///billbridge.db"
    assert settings.autotask.zone_lookup_url == "https://webservices.autotask.net/atservicesrest"
    assert settings.autotask.subscription_udf == "Subscription ID"
    assert settings.export.subscription_types == tuple(SubscriptionType)
    assert settings.export.lag_days == 4 and settings.export.check_time == time(2, 0)
    assert settings.export.azure_product_name == "Azure Plan"
    assert settings.export.contract_type == "Recurring Service"
    assert settings.export.open_ended_years == 10
    assert settings.source is None


def test_file_then_environment(tmp_path: Path) -> None:
    path = tmp_path / "b.toml"
    path.write_text(
        '[autotask]\nusername = "api@x.test"\nsecret = "s3cret"\n'
        '[export]\nsubscription_types = ["csp365", "azure"]\nlag_days = 3\n'
    )
    settings = Settings.load(
        path,
        environ={
            "BILLBRIDGE_EXPORT_LAG_DAYS": "6",
            "BILLBRIDGE_EXPORT_CHECK_TIME": "03:30",
            "BILLBRIDGE_EXPORT_SUBSCRIPTION_TYPES": "csp365, perpetual",
            "BILLBRIDGE_AUTOTASK_ZONE_LOOKUP_URL": "http://127.0.0.1:8765/atservicesrest/",
        },
    )
    assert settings.export.lag_days == 6
    assert settings.export.check_time == time(3, 30)
    assert settings.export.subscription_types == (
        SubscriptionType.CSP365,
        SubscriptionType.PERPETUAL,
    )
    assert settings.autotask.zone_lookup_url == "http://127.0.0.1:8765/atservicesrest"
    assert settings.autotask.username == "api@x.test"
    assert settings.source == path


def test_config_file_from_environment(tmp_path: Path) -> None:
    path = tmp_path / "other.toml"
    path.write_text('[database]\nurl = "sqlite:///other.db"\n')
    settings = Settings.load(environ={"BILLBRIDGE_CONFIG": str(path)})
    assert settings.database.url == "sqlite:///other.db"


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "b.toml"
    path.write_text(
        '[export]\nlag_days = "soon"\nsubscription_types = "csp365,o365"\ncolour = 1\n'
        "[web]\nadmin_password = 5\n[mystery]\nx = 1\n"
    )
    with pytest.raises(SettingsError) as caught:
        Settings.load(path, environ={"BILLBRIDGE_EXPORT_CHECK_TIME": "25:00"})
    text = "\n".join(caught.value.problems)
    assert f"mystery: unknown section in {path}" in text
    assert "export.lag_days: Input should be a valid integer" in text
    assert "export.subscription_types" in text and "o365" not in text.split("types")[0]
    assert "export.colour: unknown setting" in text
    assert "export.check_time: must be a UTC time HH:MM, e.g. 02:00" in text
    assert "(from BILLBRIDGE_EXPORT_CHECK_TIME)" in text
    assert "web.admin_password" in text
    assert len(caught.value.problems) == 6


def test_broken_toml_and_missing_explicit_file(tmp_path: Path) -> None:
    broken = tmp_path / "b.toml"
    broken.write_text("[export\n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        Settings.load(broken, environ={})
    with pytest.raises(SettingsError, match="settings file not found"):
        Settings.load(tmp_path / "missing.toml", environ={})


def test_secrets_never_show(tmp_path: Path) -> None:
    path = tmp_path / "b.toml"
    path.write_text(
        '[autotask]\nsecret = "hunter2"\nintegration_code = "CODE-XYZ"\n'
        '[web]\nadmin_password = "pa55"\n'
        '[database]\nurl = "postgresql+psycopg://u:dbpass@h/db"\n'
    )
    settings = Settings.load(path, environ={})
    shown = repr(settings) + str(settings.masked())
    for secret in ("hunter2", "CODE-XYZ", "pa55", "dbpass"):
        assert secret not in shown
    assert settings.masked()["autotask"]["secret"] == "********"
    assert settings.autotask.secret is not None
    assert settings.autotask.secret.get_secret_value() == "hunter2"


def test_bad_secret_value_error_does_not_echo_it(tmp_path: Path) -> None:
    path = tmp_path / "b.toml"
    path.write_text('[autotask]\nsecret = ["hunter2"]\n')
    with pytest.raises(SettingsError) as caught:
        Settings.load(path, environ={})
    assert "hunter2" not in str(caught.value)


def test_required_keys_for_a_command() -> None:
    settings = Settings.defaults()
    assert settings.missing("autotask.username", "export.product_billing_code") == [
        "autotask.username: is not set (in the settings file or BILLBRIDGE_AUTOTASK_USERNAME)",
        "export.product_billing_code: is not set"
        " (in the settings file or BILLBRIDGE_EXPORT_PRODUCT_BILLING_CODE)",
    ]
