"""A transaction's repositories, created together on one connection."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Connection

from billbridge.store.export_state import ExportStateRepository
from billbridge.store.organizations import OrganizationRepository
from billbridge.store.price_list import PriceListRepository
from billbridge.store.pulls import PullRepository
from billbridge.store.reports import ReportRepository
from billbridge.store.runs import RunRepository
from billbridge.store.tenant_metadata import TenantMetadataRepository


class UnitOfWork:
    """Everything read or written in one transaction of the store."""

    def __init__(self, connection: Connection, clock: Callable[[], datetime]) -> None:
        self.connection = connection
        self.organizations = OrganizationRepository(connection, clock)
        self.price_list = PriceListRepository(connection, clock)
        self.reports = ReportRepository(connection, clock)
        self.runs = RunRepository(connection, clock)
        self.exports = ExportStateRepository(connection, clock)
        self.pulls = PullRepository(connection, clock)  # P: pull
        self.tenant_metadata = TenantMetadataRepository(connection, clock)
