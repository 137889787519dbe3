"""A sandbox whose Microsoft emulator serves Partner Center files, and billbridge pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from billbridge.config import Settings
from billbridge.demo import emulator_partner_center, sandbox_settings
from billbridge.pulling import PullResult, pull_partner_center
from billbridge.sandbox import RunningSandbox, SandboxOptions, start_in_background
from billbridge.sandbox.microsoft import MicrosoftEmulator, MicrosoftFaults
from billbridge.store import Store
from billbridge.store.reports import StoredReport

DATA = Path(__file__).parents[1] / "sources" / "partner_center" / "data"
RECON = DATA / "invoice-recon-2025-11.csv"
USAGE = DATA / "daily-usage-2025-11.csv"
REAL_USAGE = DATA / "azure-billed-usage-2025-11-anonymised.csv.gz"
RECON_INVOICE = "G006543210"
USAGE_INVOICE = "G006543211"


@dataclass
class Pull:
    """billbridge's store and settings wired to one sandbox's Microsoft emulator."""

    sandbox: RunningSandbox
    settings: Settings
    store: Store
    workdir: Path

    @property
    def emulator(self) -> MicrosoftEmulator:
        return self.sandbox.microsoft

    def pull(self, **kwargs: Any) -> PullResult:
        kwargs.setdefault("today", self.today)
        return pull_partner_center(self.store, self.settings, **kwargs)

    @property
    def today(self) -> Any:
        from datetime import date

        return date(2025, 12, 20)

    def with_partner_center(self, **changes: Any) -> Settings:
        section = emulator_partner_center(self.sandbox, **changes)
        return replace(self.settings, partner_center=section)

    def exports_of(self, invoice_id: str) -> list[str]:
        return [call.kind for call in self.emulator.exports if call.invoice_id == invoice_id]

    def write_config(self, **changes: str) -> Path:
        section = self.settings.partner_center
        values = {
            "tenant_id": section.tenant_id,
            "client_id": section.client_id,
            "client_secret": section.client_secret.get_secret_value()
            if section.client_secret
            else "",
            "authority_url": section.authority_url,
            "graph_url": section.graph_url,
            "api_url": section.api_url,
            "history_days": "3000",
        } | changes
        lines = [f'[database]\nurl = "{self.settings.database.url}"\n', "[partner_center]"]
        for key, value in values.items():
            lines.append(f"{key} = {value}" if key == "history_days" else f'{key} = "{value}"')
        path = self.workdir / "billbridge.toml"
        path.write_text("\n".join(lines) + "\n")
        return path


PullFactory = Callable[..., Pull]


@pytest.fixture
def make_pull(tmp_path: Path) -> Iterator[PullFactory]:
    opened: list[tuple[RunningSandbox, Store]] = []

    def make(
        *files: Path,
        faults: MicrosoftFaults | None = None,
        name: str = "b",
        blob_rows: int = 250_000,
        unbilled_invoice: str | None = None,
    ) -> Pull:
        options = SandboxOptions(
            port=0,
            partner_center=files or (RECON, USAGE),
            microsoft_faults=faults,
            blob_rows=blob_rows,
            unbilled_invoice=unbilled_invoice,
        )
        sandbox = start_in_background(options)
        url = f"sqlite:///{tmp_path / f'{name}.db'}"
        settings = sandbox_settings(sandbox, url)
        store = Store(url)
        opened.append((sandbox, store))
        return Pull(sandbox, settings, store, tmp_path)

    yield make
    for sandbox, store in opened:
        store.close()
        sandbox.stop()


@pytest.fixture
def pulling(make_pull: PullFactory) -> Pull:
    return make_pull()


def stored_reports(store: Store) -> list[StoredReport]:
    """Every current report revision of the store, with its lines."""
    with store.transaction() as uow:
        ids = [summary.report_id for summary in uow.reports.summaries()]
        return uow.reports.get_many(ids)


def report_hashes(store: Store) -> dict[str, str]:
    return {r.report.report_id: r.content_hash for r in stored_reports(store)}
