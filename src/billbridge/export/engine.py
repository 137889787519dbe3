"""Plan and export: the same decisions, with or without writing them.

`plan` and `export` run the same steps up to the plan (select reports, desired state from the
domain rules, Autotask's actual state by key, the diff); `export` then records a run, applies
the writes through the journal and records each report's outcome.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import date

from billbridge.autotask import AutotaskClient, AutotaskError
from billbridge.config import Settings
from billbridge.domain.plan import ReportPlan, ReportStatus, plan_reports
from billbridge.domain.records import ActualState, DesiredState, Entity, Skipped
from billbridge.domain.rules import ExportRules, desired_state
from billbridge.domain.schedule import ReportVersion, due_reports
from billbridge.export.actual import read_actual
from billbridge.export.apply import Applier, ApplyOptions, ApplyResult, Progress
from billbridge.export.errors import ExportSetupError, SelectionError
from billbridge.export.results import (
    ReportResult,
    RunResult,
    changes_of,
    report_result,
    with_states,
)
from billbridge.export.tenant import TenantContext, resolve_tenant
from billbridge.store import Store
from billbridge.store.reports import StoredReport
from billbridge.store.runs import OperationRecord, ReportRecord, RunTotals


@dataclass(frozen=True, slots=True)
class Selection:
    report_ids: tuple[str, ...] = ()
    due: bool = False
    today: date | None = None
    """The day `due` is computed for (the daily check's day)."""


@dataclass(frozen=True, slots=True)
class _Prepared:
    reports: list[StoredReport]
    plans: list[ReportPlan]
    tenant: TenantContext | None
    names: dict[str, str]
    """Organization id -> name, for people reading the results."""

    def result(self, plan: ReportPlan) -> ReportResult:
        return report_result(plan, self.names.get(plan.organization_id))


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
        prepared = self._prepare(self._select(selection))
        results = tuple(prepared.result(plan) for plan in prepared.plans)
        return RunResult(None, results, requests=self._client.stats.total - before)

    def export(
        self,
        selection: Selection,
        *,
        trigger: str = "cli",
        on_progress: Progress | None = None,
    ) -> RunResult:
        """Plan and apply, recorded as a run. Only one export runs at a time per store."""
        with self._store.exclusive("export"):
            with self._store.transaction() as uow:
                _, unfinished = uow.runs.mark_interrupted()
            if unfinished:
                # A write of the crashed export may still be running inside Autotask; give it
                # time to land, so that reading by key sees it and nothing is created twice.
                time.sleep(self._apply_options.settle_s)
            reports = self._select(selection)
            before = self._client.stats.total
            with self._store.transaction() as uow:
                run_id = uow.runs.start(trigger, selection.today)
            try:
                prepared = self._prepare(reports)
            except (ExportSetupError, AutotaskError) as exc:
                self._finish(
                    run_id, "failed", RunTotals(requests=self._client.stats.total - before)
                )
                raise ExportSetupError(str(exc)) from exc
            except BaseException:
                self._abandon(run_id)
                raise
            journal = self._record(run_id, prepared)
            applied = ApplyResult()
            if prepared.tenant is not None:
                applier = Applier(
                    self._client,
                    self._store,
                    run_id,
                    prepared.tenant,
                    self._apply_options,
                    on_progress=on_progress,
                )
                try:
                    applied = applier.apply(prepared.plans, journal)
                except BaseException:
                    self._abandon(run_id)
                    raise
            results = self._outcomes(run_id, prepared, journal, applied)
            result = RunResult(run_id, results, requests=self._client.stats.total - before)
            summary = result.summary
            status = "succeeded" if result.exit_code == 0 else "partly_failed"
            self._finish(
                run_id,
                status,
                RunTotals(
                    summary.created,
                    summary.updated,
                    summary.unchanged,
                    summary.conflicts,
                    summary.failed_reports,
                    result.requests,
                ),
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
        with self._store.transaction() as uow:
            organizations = uow.organizations.get_many(r.report.organization_id for r in reports)
            skus = {line.sku for r in reports for line in r.report.lines}
            price_list = uow.price_list.get_many(skus)
        exportable = [
            r
            for r in reports
            if organizations[r.report.organization_id].active
            and organizations[r.report.organization_id].is_linked
        ]
        tenant = resolve_tenant(self._client, self._settings) if exportable else None
        rules = ExportRules(
            subscription_types=frozenset(self._settings.export.subscription_types),
            azure_product_name=self._settings.export.azure_product_name,
            open_ended_years=self._settings.export.open_ended_years,
            product_billing_code_id=tenant.billing_code_id if tenant else 0,
        )
        decisions: list[DesiredState | Skipped] = [
            desired_state(r.report, organizations[r.report.organization_id], price_list, rules)
            for r in reports
        ]
        states = [d for d in decisions if isinstance(d, DesiredState)]
        actual = None
        if tenant and states:
            with self._store.transaction() as uow:
                written = uow.exports.ids_by_report(
                    Entity.CHARGE.value, [s.report_id for s in states]
                )
            earlier = [i for charges in written.values() for i in charges.values()]
            actual = read_actual(self._client, states, tenant, written_before=earlier)
        plans = plan_reports(decisions, actual or ActualState())
        names = {o.organization_id: o.name for o in organizations.values()}
        return _Prepared(reports, plans, tenant, names)

    def _record(self, run_id: int, prepared: _Prepared) -> dict[tuple[str, int], int]:
        """Store the run's reports and every operation; writes start as `planned`."""
        journal: dict[tuple[str, int], int] = {}
        with self._store.transaction() as uow:
            for stored, plan in zip(prepared.reports, prepared.plans, strict=True):
                uow.runs.record_report(
                    run_id,
                    ReportRecord(
                        plan.report_id,
                        stored.revision,
                        stored.content_hash,
                        plan.organization_id,
                        plan.status.value,
                        plan.reason,
                        list(plan.warnings),
                    ),
                )
                records = [
                    OperationRecord(
                        report_id=plan.report_id,
                        position=position,
                        action=op.action.value,
                        entity=op.entity.value,
                        key=str(op.key),
                        autotask_id=op.autotask_id,
                        changes=changes_of(op),
                        reason=op.reason,
                        state="planned" if op.writes else "none",
                    )
                    for position, op in enumerate(plan.operations)
                ]
                ids = uow.runs.add_operations(run_id, records)
                for position, (op, op_id) in enumerate(zip(plan.operations, ids, strict=True)):
                    if op.writes:
                        journal[(plan.report_id, position)] = op_id
        return journal

    def _outcomes(
        self,
        run_id: int,
        prepared: _Prepared,
        journal: dict[tuple[str, int], int],
        applied: ApplyResult,
    ) -> tuple[ReportResult, ...]:
        done, failed = applied.done, applied.failed
        results = []
        with self._store.transaction() as uow:
            for stored, plan in zip(prepared.reports, prepared.plans, strict=True):
                states: list[tuple[str | None, int | None, str | None]] = []
                first_error = None
                for position, op in enumerate(plan.operations):
                    op_id = journal.get((plan.report_id, position))
                    if op_id is None:
                        states.append((None, None, None))
                    elif op_id in done:
                        states.append(("done", done[op_id], None))
                    else:
                        error = failed.get(op_id, "not sent")
                        states.append(("failed", None, error))
                        first_error = first_error or f"{op.entity.value} {op.key}: {error}"
                result = with_states(prepared.result(plan), states)
                if first_error is not None:
                    result = replace(result, status=ReportStatus.FAILED.value, reason=first_error)
                    uow.runs.set_report_status(run_id, plan.report_id, result.status, first_error)
                elif plan.status in (ReportStatus.EXPORTED, ReportStatus.NOTHING_TO_DO):
                    uow.exports.mark_exported(plan.report_id, stored.content_hash, run_id)
                results.append(result)
        return tuple(results)

    def _abandon(self, run_id: int) -> None:
        """A run cut short by an unexpected error or an interrupt: its unfinished writes are
        marked unknown, for the next export to resolve by key."""
        with self._store.transaction() as uow:
            uow.runs.mark_interrupted(run_id)

    def _finish(self, run_id: int, status: str, totals: RunTotals) -> None:
        with self._store.transaction() as uow:
            uow.runs.finish(run_id, status, totals)
