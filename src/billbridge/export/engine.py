"""Plan and export: the same decisions, with or without writing them.

`plan` and `export` run the same steps up to the plan (select reports, desired state from the
domain rules, Autotask's actual state by key, the diff); `export` then records a run, applies
the writes through the journal and records each report's outcome.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from types import TracebackType

from billbridge.autotask import AutotaskClient, AutotaskError
from billbridge.autotask.throttle import ThresholdGovernor
from billbridge.config import Settings
from billbridge.domain.organization import Organization
from billbridge.domain.plan import (
    ReportPlan,
    ReportStatus,
    TenantView,
    deferred,
    over_budget,
    plan_reports,
)
from billbridge.domain.price_list import PriceListItem
from billbridge.domain.records import ActualState, DesiredState, Entity, Skipped
from billbridge.domain.report import BillingReport
from billbridge.domain.rules import ExportRules, desired_state
from billbridge.domain.schedule import ReportVersion, due_reports
from billbridge.domain.totals import Amounts, subscription_charges, total
from billbridge.export.actual import read_actual
from billbridge.export.apply import (
    Applier,
    ApplyOptions,
    ApplyResult,
    Journaled,
    Outcome,
    Progress,
)
from billbridge.export.errors import (
    ExportSetupError,
    ExportStoppedError,
    LeaseBusyError,
    SelectionError,
)
from billbridge.export.lease import (
    LEASE_REQUESTS,
    TenantLease,
    acquire_in_background,
    give_back,
    release_in_background,
    tell,
    wait_released,
)
from billbridge.export.results import (
    OperationResult,
    ReportResult,
    RunResult,
    changes_of,
    operation_result,
    report_result,
)
from billbridge.export.tenant import TenantContext
from billbridge.export.tenant_cache import resolve_tenant_cached
from billbridge.store import Store
from billbridge.store.export_state import Installation
from billbridge.store.reports import StoredReport
from billbridge.store.runs import JournalState, OperationRecord, ReportRecord, RunTotals


@dataclass(frozen=True, slots=True)
class Selection:
    report_ids: tuple[str, ...] = ()
    due: bool = False
    today: date | None = None
    """The day `due` is computed for (the daily check's day)."""


@dataclass(frozen=True, slots=True)
class _Prepared:
    reports: dict[str, StoredReport]
    """Report id -> the revision being exported."""
    plans: list[ReportPlan]
    tenant: TenantContext | None
    names: dict[str, str]
    """Organization id -> name, for people reading the results."""

    def stored(self, report_id: str) -> StoredReport:
        return self.reports[report_id]

    def result(
        self, plan: ReportPlan, operations: list[OperationResult] | None = None
    ) -> ReportResult:
        stored = self.stored(plan.report_id)
        return report_result(
            plan,
            self.names.get(plan.organization_id),
            revision=stored.revision,
            money=report_money(stored),
            operations=operations,
        )


def report_money(stored: StoredReport) -> list[Amounts]:
    """The report's billing per currency, as the money pages count it."""
    return total(subscription_charges(stored.report))


def unstored(report: BillingReport, at: datetime) -> StoredReport:
    """A report no store holds (the month to date), in the shape plans and reconciles take:
    no revision, and the content hash the store would give it."""
    return StoredReport(report, 0, report.content_hash, at, "not stored")


class ExportEngine:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        client: AutotaskClient,
        *,
        apply_options: ApplyOptions = ApplyOptions(),
    ) -> None:
        self._store = store
        self._settings = settings
        self._client = client
        self._apply_options = apply_options

    # -- public -------------------------------------------------------------------------------

    def due_report_ids(self, today: date) -> list[str]:
        with self._store.transaction() as uow:
            summaries = uow.reports.summaries(generated_on_or_before=today)
            exported = uow.exports.exported_hashes()
        versions = [ReportVersion(s.report_id, s.generated_on, s.content_hash) for s in summaries]
        return due_reports(versions, exported, today, self._settings.export.lag_days)

    def plan(self, selection: Selection) -> RunResult:
        """Every operation an export of `selection` would perform; writes nothing anywhere."""
        before = self._client.stats.total
        readings = self._client.threshold_reads
        prepared = self._prepare(self._select(selection))
        reads = self._client.stats.total - before
        budget = self._budget(prepared, reads, readings)
        prepared = budget.apply(prepared)
        results = tuple(prepared.result(plan) for plan in prepared.plans)
        return RunResult(
            None, results, requests=self._client.stats.total - before, notes=budget.notes
        )

    def plan_unstored(
        self, reports: Sequence[BillingReport], *, names: Mapping[str, str] | None = None
    ) -> RunResult:
        """Every operation an export of `reports` would perform, though they are not in the
        store (the month to date); writes nothing anywhere. A report of an organization the
        store does not have is skipped; `names` names such organizations for people."""
        before = self._client.stats.total
        at = self._store.clock()
        prepared = self._prepare([unstored(report, at) for report in reports])
        prepared = replace(prepared, names={**(names or {}), **prepared.names})
        # Never exported, so the hourly budget defers nothing; and no revision to show.
        results = tuple(replace(prepared.result(plan), revision=None) for plan in prepared.plans)
        return RunResult(None, results, requests=self._client.stats.total - before)

    def _budget(self, prepared: _Prepared, reads: int, readings_before: int) -> _Budget:
        """How many requests the export needs, how long the hourly budget makes it take, and
        which reports to leave for later so that none waits for the budget: its writes, the
        reads again once the lease is held, and the lease itself (one request to read the
        tenant's threshold, only when the plan writes anything)."""
        writes = sum(len(plan.writes) for plan in prepared.plans)
        if not writes:
            return _Budget()
        overhead = reads + LEASE_REQUESTS
        try:
            estimate = self._client.budget(writes + overhead, read_after=readings_before)
        except AutotaskError as exc:
            return _Budget(notes=(f"the hourly request budget could not be read: {_reason(exc)}",))
        # Room before the client starts spacing requests out (the last part of the share).
        paced_from = int((estimate.share - ThresholdGovernor.SLOW_ZONE) * estimate.threshold)
        room = paced_from - estimate.used - overhead
        later = over_budget(prepared.plans, room) if writes > room else set()
        if not later:
            return _Budget(notes=(estimate.describe(),))
        until = self._store.clock() + timedelta(minutes=estimate.timeframe_minutes)
        left = sum(len(p.writes) for p in prepared.plans if p.report_id in later)
        reason = (
            f"the hourly request budget has no room for its writes now ({estimate.used:,} of"
            f" the tenant's {estimate.threshold:,} used; billbridge paces itself from"
            f" {paced_from:,}); exported by an export after about {until:%H:%M} UTC"
        )
        note = (
            f"{len(later)} report{'' if len(later) == 1 else 's'} ({left:,} writes) deferred"
            f" to keep within the hourly request budget: `billbridge export --due` after"
            f" {until:%H:%M} UTC continues them (the daily check does, at the latest)"
        )
        return _Budget(frozenset(later), reason, (estimate.describe(), note))

    def export(
        self,
        selection: Selection,
        *,
        trigger: str = "cli",
        on_progress: Progress | None = None,
    ) -> RunResult:
        """Select, desire, read, plan, apply, record: one run. One export at a time per store,
        and (by the lease held in the tenant) one installation at a time per tenant."""
        with self._store.exclusive("export"):
            with self._store.transaction() as uow:
                uow.runs.mark_interrupted()
                installation = uow.exports.installation()
            reports = self._select(selection)
            before = self._client.stats.total
            readings = self._client.threshold_reads
            with _Run(self._store, trigger, selection.today) as run:
                if not reports:
                    run.finish("nothing_due", RunTotals())
                    return RunResult(
                        run.id,
                        (),
                        notes=("nothing is due",),
                        status="nothing_due",
                        trigger=trigger,
                        today=selection.today,
                    )
                tenant_known: Future[TenantContext] = Future()
                early = self._early_lease(reports, installation, tenant_known)
                taking = None if early is None else acquire_in_background(early)
                early_requests = 0 if early is None else early.acquire_requests - 1
                try:
                    desired = self._desire(reports)
                    tell(tenant_known, desired.tenant)
                    read_at = self._store.clock()
                    reading = self._client.stats.total
                    prepared = self._read_and_plan(desired)
                    desired, prepared = self._fresh_before_writes(desired, prepared)
                    reads = self._client.stats.total - reading
                    # the early lease's requests so far (all but its last) are not plan reads
                    reads = max(0, reads - early_requests)
                    budget = self._budget(prepared, reads, readings)
                    prepared = budget.apply(prepared)
                    lease = self._lease(prepared, installation, taking)
                except BaseException as exc:
                    tell(tenant_known, exc)
                    give_back(taking)
                    raise
                releasing: Future[None] | None = None
                try:
                    if lease is not None and not lease.quiet_since(read_at):
                        # Read again now that no other installation writes: the keys are
                        # checked after anything it created.
                        prepared = budget.apply(self._read_and_plan(desired))
                    journal = self._record(run.id, prepared)
                    applied = self._apply(run.id, prepared, journal, lease, on_progress)
                    # The last write is done: the release's round trip runs beside the
                    # bookkeeping of the outcomes.
                    releasing = release_in_background(lease)
                    results = self._outcomes(run.id, prepared, journal, applied)
                finally:
                    wait_released(lease, releasing)
                result = RunResult(
                    run.id,
                    results,
                    requests=self._client.stats.total - before,
                    notes=(*budget.notes[1:], *applied.notes),
                    error=applied.fatal,
                    trigger=trigger,
                    today=selection.today,
                )
                result = replace(result, status=_run_status(result))
                run.finish(_run_status(result), _totals(result), applied.fatal)
                if applied.fatal is not None:
                    raise ExportStoppedError(
                        applied.fatal, run_id=run.id, written=len(applied.done), result=result
                    )
                return result

    # -- steps --------------------------------------------------------------------------------

    def _select(self, selection: Selection) -> list[StoredReport]:
        ids = list(dict.fromkeys(selection.report_ids))
        if selection.due:
            if selection.today is None:
                raise SelectionError("--due needs a day")
            ids += [i for i in self.due_report_ids(selection.today) if i not in ids]
        elif not ids:
            raise SelectionError("name the reports to export, or use --due")
        with self._store.transaction() as uow:
            found = {stored.report.report_id: stored for stored in uow.reports.get_many(ids)}
        unknown = [i for i in ids if i not in found]
        if unknown:
            raise SelectionError(
                f"unknown report{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}"
            )
        return [found[i] for i in ids]

    def _prepare(self, reports: list[StoredReport]) -> _Prepared:
        return self._read_and_plan(self._desire(reports))

    def _fresh_before_writes(
        self, desired: _Desired, prepared: _Prepared
    ) -> tuple[_Desired, _Prepared]:
        """A plan that writes, made on cached metadata, is checked on metadata read now: the
        required fields and picklists a write is checked against are never the cache's.
        The same context keeps the plan; another one (the tenant changed) plans again."""
        cached = desired.tenant
        if cached is None or cached.cached_at is None:
            return desired, prepared
        if not any(plan.writes for plan in prepared.plans):
            return desired, prepared
        fresh = resolve_tenant_cached(self._client, self._settings, self._store, fresh=True)
        if fresh == cached:
            return replace(desired, tenant=fresh), replace(prepared, tenant=fresh)
        desired = self._desire(desired.reports, tenant=fresh)
        return desired, self._read_and_plan(desired)

    def _desire(
        self, reports: list[StoredReport], *, tenant: TenantContext | None = None
    ) -> _Desired:
        """The reports' desired records, and the tenant's context if any report is exported."""
        with self._store.transaction() as uow:
            organizations = uow.organizations.get_many(r.report.organization_id for r in reports)
            skus = {line.sku for r in reports for line in r.report.lines}
            price_list = uow.price_list.get_many(skus)
        exportable = [
            r
            for r in reports
            if (organization := organizations.get(r.report.organization_id)) is not None
            and organization.is_exportable
        ]
        if exportable and tenant is None:
            tenant = resolve_tenant_cached(self._client, self._settings, self._store)
        rules = ExportRules(
            subscription_types=frozenset(self._settings.export.subscription_types),
            azure_product_name=self._settings.export.azure_product_name,
            open_ended_years=self._settings.export.open_ended_years,
            product_billing_code_id=tenant.billing_code_id if tenant else 0,
        )
        decisions = [
            _decision(r.report, organizations.get(r.report.organization_id), price_list, rules)
            for r in reports
        ]
        names = {o.organization_id: o.name for o in organizations.values()}
        return _Desired(reports, decisions, tenant, names)

    def _read_and_plan(self, desired: _Desired) -> _Prepared:
        """Autotask's records for the desired keys, and the plan against them."""
        tenant = desired.tenant
        states = [d for d in desired.decisions if isinstance(d, DesiredState)]
        actual = None
        if tenant and states:
            with self._store.transaction() as uow:
                written = uow.exports.ids_by_report(
                    Entity.CHARGE.value, [s.report_id for s in states]
                )
            earlier = [i for charges in written.values() for i in charges.values()]
            actual = read_actual(self._client, states, tenant, written_before=earlier)
        plans = plan_reports(desired.decisions, actual or ActualState(), tenant_view(tenant))
        stored = {r.report.report_id: r for r in desired.reports}
        return _Prepared(stored, plans, tenant, desired.names)

    def _early_lease(
        self,
        reports: list[StoredReport],
        installation: Installation,
        tenant: Future[TenantContext],
    ) -> TenantLease | None:
        """The lease to take at once, on a thread of its own, when the export is sure to
        write: a report of an exportable organization that was never exported writes its
        charges. Its round trips then overlap the reading of the tenant and of the plan (the
        lease waits for `tenant` only to create its record); an export that turns out to
        write nothing gives it back. An export of reports written before takes the lease
        only once its plan writes, so that an unchanged re-export costs no request for it."""
        ids = [r.report.report_id for r in reports]
        with self._store.transaction() as uow:
            organizations = uow.organizations.get_many(r.report.organization_id for r in reports)
            written = uow.exports.ids_by_report(Entity.CHARGE.value, ids)
        new = [
            r
            for r in reports
            if organizations[r.report.organization_id].is_exportable
            and not written.get(r.report.report_id)
        ]
        if not new:
            return None
        return self._new_lease(tenant, installation)

    def _lease(
        self, prepared: _Prepared, installation: Installation, early: Future[TenantLease] | None
    ) -> TenantLease | None:
        """Hold the tenant's export lease when the plan writes anything (an export with
        nothing to write needs none, and costs no request for it)."""
        tenant = prepared.tenant
        writes = tenant is not None and any(plan.writes for plan in prepared.plans)
        if early is not None:
            lease = early.result()  # raises LeaseBusyError as `acquire` does
            if writes:
                return lease
            lease.release()
            return None
        if tenant is None or not writes:
            return None
        lease = self._new_lease(tenant, installation)
        lease.acquire()
        return lease

    def _new_lease(
        self, tenant: TenantContext | Future[TenantContext], installation: Installation
    ) -> TenantLease:
        return TenantLease(
            self._client,
            tenant,
            installation.id,
            duration_s=self._settings.export.lease_s,
            record_absent=installation.new,
            clock=self._store.clock,
        )

    def _apply(
        self,
        run_id: int,
        prepared: _Prepared,
        journal: dict[str, list[Journaled]],
        lease: TenantLease | None,
        on_progress: Progress | None,
    ) -> ApplyResult:
        if prepared.tenant is None:
            return ApplyResult()
        options = replace(
            self._apply_options,
            unknown_write_horizon_s=self._settings.export.unknown_write_horizon_s,
        )
        since = self._store.clock() - timedelta(seconds=options.unknown_write_horizon_s)
        with self._store.transaction() as uow:
            in_flight = uow.runs.in_flight(since)
        applier = Applier(
            self._client,
            self._store,
            run_id,
            prepared.tenant,
            options,
            in_flight=in_flight,
            on_progress=on_progress,
            on_beat=lease.renew_if_due if lease is not None else None,
        )
        return applier.apply([entry for entries in journal.values() for entry in entries])

    def _record(self, run_id: int, prepared: _Prepared) -> dict[str, list[Journaled]]:
        """Store the run's reports and every operation (writes start as `planned`); each
        operation of each report with its journal id, in the plan's order."""
        reports = []
        records = []
        for plan in prepared.plans:
            stored = prepared.stored(plan.report_id)
            reports.append(
                ReportRecord(
                    plan.report_id,
                    stored.revision,
                    stored.content_hash,
                    plan.organization_id,
                    plan.status.value,
                    plan.reason,
                    list(plan.warnings),
                )
            )
            records += [
                OperationRecord(
                    report_id=plan.report_id,
                    position=position,
                    action=op.action.value,
                    entity=op.entity.value,
                    key=str(op.key),
                    autotask_id=op.autotask_id,
                    changes=changes_of(op),
                    reason=op.reason,
                    state=JournalState.PLANNED if op.writes else JournalState.NONE,
                )
                for position, op in enumerate(plan.operations)
            ]
        with self._store.transaction() as uow:
            uow.runs.record_reports(run_id, reports)
            ids = iter(uow.runs.add_operations(run_id, records))
        # One statement for every report: the ids come back in the order of the operations.
        return {
            plan.report_id: [Journaled(plan.report_id, op, next(ids)) for op in plan.operations]
            for plan in prepared.plans
        }

    def _outcomes(
        self,
        run_id: int,
        prepared: _Prepared,
        journal: dict[str, list[Journaled]],
        applied: ApplyResult,
    ) -> tuple[ReportResult, ...]:
        """Each report with what became of each of its writes, found by journal id."""
        results = []
        with self._store.transaction() as uow:
            for plan in prepared.plans:
                operations = [_settled(entry, applied) for entry in journal.get(plan.report_id, [])]
                result = prepared.result(plan, operations)
                first_error = next(
                    (
                        f"{op.entity} {op.key}: {op.error or op.state}"
                        for op in operations
                        if op.state is not None and op.state != JournalState.DONE
                    ),
                    None,
                )
                if first_error is not None:
                    result = replace(result, status=ReportStatus.FAILED.value, reason=first_error)
                    uow.runs.set_report_status(run_id, plan.report_id, result.status, first_error)
                elif plan.status.is_done:
                    stored = prepared.stored(plan.report_id)
                    uow.exports.mark_exported(plan.report_id, stored.content_hash, run_id)
                results.append(result)
        # In report id order, as a stored run lists them: one run reads the same either way.
        return tuple(sorted(results, key=lambda r: r.report_id))


def _decision(
    report: BillingReport,
    organization: Organization | None,
    price_list: Mapping[str, PriceListItem],
    rules: ExportRules,
) -> DesiredState | Skipped:
    if organization is None:
        # A report read from Microsoft but not imported (the month to date) may name a
        # customer that no import has brought into the store yet.
        detail = (
            f"organization {report.organization_id} is not imported; an import or a pull"
            " brings it in, and `billbridge map` links it"
        )
        return Skipped(report.report_id, report.organization_id, "unmapped", detail)
    return desired_state(report, organization, price_list, rules)


def _settled(entry: Journaled, applied: ApplyResult) -> OperationResult:
    """An operation as recorded, with its write's outcome (a write the applier never settled
    was not sent)."""
    result = operation_result(entry.op, entry.journal_id)
    if not entry.op.writes:
        return result
    outcome = applied.outcomes.get(entry.journal_id) or Outcome(
        JournalState.FAILED, error="not sent"
    )
    return replace(
        result,
        state=outcome.state.value,
        autotask_id=outcome.autotask_id if outcome.autotask_id is not None else result.autotask_id,
        error=outcome.error,
    )


@dataclass(frozen=True, slots=True)
class _Budget:
    """What the hourly request budget makes of a plan: the reports left for later, and what
    to tell people (the estimate first)."""

    later: frozenset[str] = frozenset()
    reason: str = ""
    notes: tuple[str, ...] = ()

    def apply(self, prepared: _Prepared) -> _Prepared:
        if not self.later:
            return prepared
        plans = [
            deferred(plan, self.reason) if plan.report_id in self.later else plan
            for plan in prepared.plans
        ]
        return replace(prepared, plans=plans)


@dataclass(frozen=True, slots=True)
class _Desired:
    reports: list[StoredReport]
    decisions: list[DesiredState | Skipped]
    tenant: TenantContext | None
    names: dict[str, str]


class _Run:
    """A run's lifecycle in one place: started on entry; finished by the block; on a fatal
    error failed with its exact text; given up when another installation holds the tenant;
    marked interrupted (its unfinished writes unknown) on anything else."""

    def __init__(self, store: Store, trigger: str, today: date | None) -> None:
        self._store = store
        self._trigger = trigger
        self._today = today
        self.id = 0
        self._finished = False

    def __enter__(self) -> _Run:
        with self._store.transaction() as uow:
            self.id = uow.runs.start(self._trigger, self._today)
        return self

    def finish(self, status: str, totals: RunTotals, error: str | None = None) -> None:
        with self._store.transaction() as uow:
            uow.runs.finish(self.id, status, totals, error)
        self._finished = True

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._finished or exc is None:
            if not self._finished:
                self.finish("failed", RunTotals(), "the run ended without a result")
            return
        if isinstance(exc, LeaseBusyError):
            with self._store.transaction() as uow:
                uow.runs.discard(self.id)
        elif isinstance(exc, ExportSetupError | AutotaskError):
            self.finish("failed", RunTotals(), _reason(exc))
        else:
            with self._store.transaction() as uow:
                uow.runs.mark_interrupted(self.id)


def tenant_view(tenant: TenantContext | None) -> TenantView:
    """What the tenant keeps and shows, for planning."""
    if tenant is None:
        return TenantView()
    hidden = frozenset() if tenant.cost_visible else frozenset({"unitCost"})
    return TenantView(unit_places=tenant.unit_decimals, hidden=hidden)


def _run_status(result: RunResult) -> str:
    if result.error is not None:
        return "failed"
    return "succeeded" if result.exit_code == 0 else "partly_failed"


def _totals(result: RunResult) -> RunTotals:
    summary = result.summary
    return RunTotals(
        summary.created,
        summary.updated,
        summary.unchanged,
        summary.conflicts,
        summary.failed_reports,
        result.requests,
    )


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason) if isinstance(reason, str) and reason else str(exc)
