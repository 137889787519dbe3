"""The state store, on SQLite and on PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, text

from billbridge.domain.organization import Organization
from billbridge.domain.price_list import PriceListItem
from billbridge.domain.report import BillingReport, ReportLine
from billbridge.domain.subscription import SubscriptionType
from billbridge.store import Store
from billbridge.store.database import MIGRATIONS, StoreBusyError, StoreError
from billbridge.store.reports import SaveOutcome


def a_report(quantity: str = "10", report_id: str = "r1") -> BillingReport:
    return BillingReport(
        report_id=report_id,
        organization_id="org-1",
        generated_on=date(2026, 10, 6),
        period_start=date(2026, 10, 1),
        period_end=date(2026, 10, 31),
        currency="USD",
        lines=(
            ReportLine(
                "sub-1",
                SubscriptionType.CSP365,
                "CFQ7TTC0LH18:0001",
                "Microsoft 365 Business Basic",
                Decimal(quantity),
                Decimal("5.40"),
                Decimal("6.00"),
                subscription_start=date(2026, 3, 1),
                subscription_end=date(2027, 2, 28),
            ),
            ReportLine(
                "az-1",
                SubscriptionType.AZURE,
                "meter-blob",
                "Blob Storage",
                Decimal("7.10833E-05"),
                Decimal("0.0184"),
                Decimal("0.02"),
                usage_quantity=Decimal("12.5"),
                usage_unit="GB",
            ),
        ),
    )


def test_migrations_are_applied_on_first_use(store: Store) -> None:
    tables = set(inspect(store.engine).get_table_names())
    assert {"organizations", "price_list_items", "reports", "report_revisions"} <= tables
    with store.engine.connect() as connection:
        version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert version == _head()
    Store(store.url).close()  # opening an up-to-date store again is a no-op


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _head() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


def _alembic(url: str, revision: str) -> None:
    """Alembic's own upgrade of the database at `url` to `revision`, as an older billbridge
    left it."""
    config = _config()
    engine = create_engine(url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    engine.dispose()


def _tables(engine: Engine) -> dict[str, dict[str, object]]:
    """What each table is made of, as the database reports it."""
    seen = inspect(engine)
    return {
        table: {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                for c in seen.get_columns(table)
            ],
            "primary key": seen.get_pk_constraint(table),
            "foreign keys": sorted(map(str, seen.get_foreign_keys(table))),
            "indexes": sorted(map(str, seen.get_indexes(table))),
            "unique": sorted(map(str, seen.get_unique_constraints(table))),
            "checks": sorted(map(str, seen.get_check_constraints(table))),
        }
        for table in sorted(seen.get_table_names())
    }


def test_a_new_store_has_the_tables_the_migrations_make(
    store_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    # A new database is created from schema.py, not by replaying the migrations: both ways
    # must give the same database, or a store created today differs from one upgraded.
    if store_url.startswith("sqlite"):
        migrated_url = f"sqlite:///{tmp_path / 'migrated.db'}"
    else:
        migrated_url = str(request.getfixturevalue("second_postgres_url"))
    _alembic(migrated_url, "head")
    created = Store(store_url)
    migrated = create_engine(migrated_url)
    try:
        assert _tables(created.engine) == _tables(migrated)
        with created.engine.connect() as connection:
            version = connection.execute(text("SELECT version_num FROM alembic_version"))
            assert version.scalar() == _head()
    finally:
        created.close()
        migrated.dispose()


def test_a_store_an_older_billbridge_made_is_upgraded_by_its_migrations(
    store_url: str,
) -> None:
    _alembic(store_url, "0005")
    older = create_engine(store_url)
    assert "tenant_metadata" not in inspect(older).get_table_names()
    older.dispose()
    opened = Store(store_url)
    try:
        with opened.engine.connect() as connection:
            assert "tenant_metadata" in inspect(connection).get_table_names()
            version = connection.execute(text("SELECT version_num FROM alembic_version"))
            assert version.scalar() == _head()
    finally:
        opened.close()


def test_two_processes_creating_one_new_store_both_open_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    code = f"from billbridge.store import Store\nStore({url!r}).close()"
    racing = [
        subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    for process in racing:
        _, errors = process.communicate(timeout=60)
        assert process.returncode == 0, errors
    with Store(url).transaction() as uow:
        assert uow.connection.exec_driver_sql("SELECT count(*) FROM alembic_version").scalar() == 1


def test_report_round_trips_exactly(store: Store) -> None:
    report = a_report()
    with store.transaction() as uow:
        assert uow.reports.save(report, source="r.csv") is SaveOutcome.CREATED
    with store.transaction() as uow:
        stored = uow.reports.get("r1")
    assert stored is not None
    assert stored.report == report
    assert stored.report.lines[1].quantity.as_tuple() == Decimal("7.10833E-05").as_tuple()
    assert stored.revision == 1 and stored.content_hash == report.content_hash
    assert stored.imported_at.tzinfo is not None


def test_same_content_is_unchanged_and_new_content_is_a_revision(store: Store) -> None:
    with store.transaction() as uow:
        uow.reports.save(a_report(), source="a.csv")
    with store.transaction() as uow:
        assert uow.reports.save(a_report(), source="a.csv") is SaveOutcome.UNCHANGED
        assert uow.reports.save(a_report("12"), source="b.csv") is SaveOutcome.CORRECTED
    with store.transaction() as uow:
        current = uow.reports.get("r1")
        first = uow.reports.get("r1", revision=1)
        history = uow.reports.revisions("r1")
    assert current is not None and first is not None
    assert current.revision == 2 and current.report.lines[0].quantity == Decimal("12")
    assert first.report.lines[0].quantity == Decimal("10")
    assert [(h.revision, h.line_count) for h in history] == [(1, 2), (2, 2)]


def test_summaries_filter_by_generated_date(store: Store) -> None:
    later = replace(a_report(report_id="r2"), generated_on=date(2026, 11, 6))
    with store.transaction() as uow:
        uow.reports.save(a_report(), source="a")
        uow.reports.save(later, source="a")
        due = uow.reports.summaries(generated_on_or_before=date(2026, 10, 10))
    assert [s.report_id for s in due] == ["r1"]
    assert due[0].line_count == 2


def test_a_failed_transaction_stores_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction() as uow:
        uow.reports.save(a_report(), source="a")
        raise RuntimeError("boom")
    with store.transaction() as uow:
        assert uow.reports.get("r1") is None


def test_organization_upsert_keeps_links(store: Store) -> None:
    with store.transaction() as uow:
        counts = uow.organizations.upsert(
            [Organization("org-1", "Contoso", "contoso.com", 101), Organization("org-2", "Fab")],
            keep_links=False,
        )
    assert (counts.created, counts.updated, counts.unchanged) == (2, 0, 0)
    with store.transaction() as uow:
        # A file without company ids keeps the link; a new name is an update.
        counts = uow.organizations.upsert(
            [Organization("org-1", "Contoso Ltd", "contoso.com"), Organization("org-2", "Fab")],
            keep_links=False,
        )
        assert (counts.created, counts.updated, counts.unchanged) == (0, 1, 1)
        # A source such as Partner Center never touches links or the active flag.
        uow.organizations.upsert(
            [Organization("org-2", "Fabrikam", None, 999, active=True)], keep_links=True
        )
        assert uow.organizations.link("org-2", 202)
        assert not uow.organizations.link("nobody", 1)
    with store.transaction() as uow:
        orgs = {o.organization_id: o for o in uow.organizations.all()}
    assert orgs["org-1"] == Organization("org-1", "Contoso Ltd", "contoso.com", 101)
    assert orgs["org-2"].autotask_company_id == 202
    assert orgs["org-2"].name == "Fabrikam"


def test_price_list_upsert(store: Store) -> None:
    item = PriceListItem(
        "SKU-1", "Microsoft 365 E3", SubscriptionType.CSP365, Decimal("33.6"), Decimal("36"), "USD"
    )
    with store.transaction() as uow:
        assert uow.price_list.upsert([item]).created == 1
    with store.transaction() as uow:
        assert uow.price_list.upsert([item]).unchanged == 1
        assert uow.price_list.upsert([replace(item, unit_price=Decimal("39"))]).updated == 1
        assert uow.price_list.get_many(["SKU-1", "nope"])["SKU-1"].unit_price == Decimal("39")


def test_bad_database_url_is_a_clear_error() -> None:
    with pytest.raises(StoreError, match=r"database\.url is not a database URL"):
        Store("not a url")


@pytest.mark.postgres
def test_unreachable_postgres_is_a_clear_error_without_the_password() -> None:
    with pytest.raises(StoreError) as caught:
        Store("postgresql+psycopg://billbridge:hunter2@127.0.0.1:1/x?connect_timeout=2")
    assert "cannot open the state store" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_the_same_store_through_a_symlink_takes_the_same_lock(tmp_path: Path) -> None:
    real = tmp_path / "real" / "billbridge.db"
    real.parent.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real.parent, target_is_directory=True)
    direct, through_link = Store(f"sqlite:///{real}"), Store(f"sqlite:///{link / 'billbridge.db'}")
    try:
        with (
            direct.exclusive("export"),
            pytest.raises(StoreBusyError),
            through_link.exclusive("export"),
        ):
            pass
    finally:
        direct.close()
        through_link.close()


def test_the_installation_id_is_made_once(store: Store) -> None:
    with store.transaction() as uow:
        first = uow.exports.installation().id
    with store.transaction() as uow:
        assert uow.exports.installation().id == first
    assert len(first) == 36


def test_writes_in_flight_are_those_sent_within_the_horizon(store: Store) -> None:
    from datetime import UTC, datetime, timedelta

    from billbridge.store.runs import JournalState, OperationRecord

    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    with store.transaction() as uow:
        run = uow.runs.start("cli", None)
        ids = uow.runs.add_operations(
            run,
            [
                OperationRecord(
                    "r1", n, "create", "Contract", f"1/sub-{n}", None, {}, None, "planned"
                )
                for n in range(3)
            ],
        )
        uow.runs.set_operation_state([ids[0]], JournalState.SENDING, sent_at=now)
        uow.runs.set_operation_state(
            [ids[1]], JournalState.SENDING, sent_at=now - timedelta(hours=1)
        )
        uow.runs.set_operation_state([ids[2]], JournalState.DONE, sent_at=now)
        assert uow.runs.mark_interrupted() == ([run], 2)
        flying = uow.runs.in_flight(now - timedelta(minutes=5))
    assert [(f.entity, f.key) for f in flying] == [("Contract", "1/sub-0")]
