"""Resolutions in the state store (SQLite and PostgreSQL), and the margin floor setting."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from billbridge.config import Settings, SettingsError
from billbridge.store import Store
from billbridge.store.resolutions import ResolutionRepository


def test_a_resolution_is_kept_replaced_and_reopened(store: Store) -> None:
    at = datetime(2026, 11, 10, 9, 30, tzinfo=UTC)
    with store.transaction() as uow:
        repo = ResolutionRepository(uow.connection)
        repo.resolve("conflict:oct:ContractCharge:S/2026-10", "f1", " billed by hand ", "dana", at)
    with store.transaction() as uow:
        [kept] = ResolutionRepository(uow.connection).all().values()
    assert (kept.note, kept.resolved_by, kept.fingerprint) == ("billed by hand", "dana", "f1")
    assert kept.resolved_at == at
    with store.transaction() as uow:
        repo = ResolutionRepository(uow.connection)
        repo.resolve(kept.item_key, "f2", "credited", "lee", at)
        assert [r.fingerprint for r in repo.all().values()] == ["f2"]
        assert repo.reopen(kept.item_key) is True
        assert repo.all() == {}
        assert repo.latest_report_runs() == [] and repo.conflicts([]) == []


def test_margin_floor_from_the_file_or_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "billbridge.toml"
    path.write_text("[reconcile]\nmargin_floor = 12.5\n")
    assert Settings.load(path, environ={}).reconcile.margin_floor == Decimal("12.5")
    environ = {"BILLBRIDGE_RECONCILE_MARGIN_FLOOR": "20"}
    assert Settings.load(path, environ=environ).reconcile.margin_floor == Decimal("20")
    assert Settings.defaults().reconcile.margin_floor is None
    with pytest.raises(SettingsError, match=r"reconcile\.margin_floor"):
        Settings.load(path, environ={"BILLBRIDGE_RECONCILE_MARGIN_FLOOR": "lots"})
