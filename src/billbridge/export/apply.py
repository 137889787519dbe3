"""Applying a plan: journaled, concurrent within Autotask's limits, exactly once.

Each write is recorded in the run's journal as `sending` (committed) before its request leaves
and marked `done` with the Autotask id, or `failed` with Autotask's exact error, after. A write
whose outcome is unknown (a timeout, a lost response) is resolved by looking its key up in
Autotask before anything is sent again; an export that crashed leaves `sending` entries that
the next export resolves the same way, because it plans from Autotask's records, found by key.

Contracts and products go first, a charge as soon as its contract and product exist; the
client keeps at most 3 requests in flight per endpoint, so different endpoints overlap.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from billbridge.autotask import AutotaskClient, AutotaskError, UnknownOutcomeError
from billbridge.domain.plan import Action, Operation, ReportPlan, same_value
from billbridge.domain.records import ChargeKey, ContractKey, Entity, ProductKey, Value
from billbridge.export import actual, records
from billbridge.export.tenant import TenantContext
from billbridge.store import Store

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class ApplyOptions:
    workers: int = 9
    """Threads sending requests: contracts, charges and products, 3 each."""
    per_endpoint: int = 3
    """Writes of one entity in flight at once: Autotask's thread limit per endpoint."""
    attempts: int = 3
    """Sends of one write, each after the previous outcome was looked up and found absent."""
    settle_s: float = 2.0
    """Wait before looking up a write whose request timed out (Autotask may still be at it)."""
    heartbeat_s: float = 10.0


@dataclass(slots=True)
class _Task:
    report_id: str
    op: Operation
    journal_id: int
    state: str = "waiting"
    autotask_id: int | None = None
    error: str | None = None


@dataclass(slots=True)
class ApplyResult:
    """Per journal id: the Autotask id written, or the error that stopped the write."""

    done: dict[int, int] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)


class Applier:
    def __init__(
        self,
        client: AutotaskClient,
        store: Store,
        run_id: int,
        tenant: TenantContext,
        options: ApplyOptions = ApplyOptions(),
        *,
        on_progress: Progress | None = None,
    ) -> None:
        self._client = client
        self._store = store
        self._run_id = run_id
        self._tenant = tenant
        self._options = options
        self._on_progress = on_progress
        self._contracts: dict[ContractKey, int] = {}
        self._products: dict[ProductKey, int] = {}
        self._blocked_contracts: dict[ContractKey, str] = {}
        self._blocked_products: dict[ProductKey, str] = {}
        self._last_beat = time.monotonic()

    def apply(
        self, plans: Sequence[ReportPlan], journal_ids: Mapping[tuple[str, int], int]
    ) -> ApplyResult:
        tasks = self._tasks(plans, journal_ids)
        total, finished = len(tasks), 0
        result = ApplyResult()
        self._progress(0, total)
        waiting = list(tasks)
        running: dict[Future[int], _Task] = {}
        # The pool gets at most `per_endpoint` tasks of an entity at a time: a worker blocked
        # on a full endpoint would otherwise sit idle while another endpoint has free slots.
        busy: Counter[Entity] = Counter()
        with ThreadPoolExecutor(self._options.workers, thread_name_prefix="write") as pool:
            while waiting or running:
                ready, blocked = self._ready(waiting)
                chosen = []
                for task in ready:
                    if busy[task.op.entity] < self._options.per_endpoint:
                        busy[task.op.entity] += 1
                        chosen.append(task)
                taken = {id(t) for t in chosen} | {id(t) for t in blocked}
                waiting = [t for t in waiting if id(t) not in taken]
                if blocked:
                    self._finish(blocked, result)
                    finished += len(blocked)
                if chosen:
                    self._journal([t.journal_id for t in chosen], "sending")
                    for task in chosen:
                        task.state = "sending"
                        running[pool.submit(self._send, task)] = task
                if not running:
                    continue
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                completed = []
                for future in done:
                    task = running.pop(future)
                    busy[task.op.entity] -= 1
                    try:
                        task.autotask_id = future.result()
                        task.state = "done"
                    except AutotaskError as exc:
                        task.state, task.error = "failed", str(exc)
                        logger.warning("%s %s failed: %s", task.op.entity, task.op.key, exc)
                    self._learn(task)
                    completed.append(task)
                self._finish(completed, result)
                finished += len(completed)
                self._progress(finished, total)
                self._beat()
        return result

    # -- scheduling ---------------------------------------------------------------------------

    def _tasks(
        self, plans: Sequence[ReportPlan], journal_ids: Mapping[tuple[str, int], int]
    ) -> list[_Task]:
        tasks = []
        for plan in plans:
            for position, op in enumerate(plan.operations):
                self._note_known(op)
                if op.writes:
                    tasks.append(_Task(plan.report_id, op, journal_ids[(plan.report_id, position)]))
        return tasks

    def _note_known(self, op: Operation) -> None:
        """Ids of records that exist already, and the keys a conflict leaves without one."""
        if op.entity is Entity.CONTRACT:
            assert isinstance(op.key, ContractKey)
            if op.action is Action.CONFLICT:
                self._blocked_contracts[op.key] = op.reason or "conflict"
            elif op.autotask_id is not None:
                self._contracts[op.key] = op.autotask_id
        elif op.entity is Entity.PRODUCT:
            assert isinstance(op.key, ProductKey)
            if op.autotask_id is not None:
                self._products[op.key] = op.autotask_id

    def _ready(self, waiting: Sequence[_Task]) -> tuple[list[_Task], list[_Task]]:
        ready, blocked = [], []
        for task in waiting:
            if task.op.entity is not Entity.CHARGE:
                ready.append(task)
                continue
            reason = self._charge_blocker(task.op)
            if reason is not None:
                task.state, task.error = "failed", reason
                blocked.append(task)
            elif self._charge_ready(task.op):
                ready.append(task)
        return ready, blocked

    def _charge_ready(self, op: Operation) -> bool:
        assert op.contract_key is not None and op.product_key is not None
        if op.action is Action.UPDATE:
            return "productID" not in op.fields or op.product_key in self._products
        return op.contract_key in self._contracts and op.product_key in self._products

    def _charge_blocker(self, op: Operation) -> str | None:
        assert op.contract_key is not None and op.product_key is not None
        if op.action is Action.CREATE and op.contract_key in self._blocked_contracts:
            reason = self._blocked_contracts[op.contract_key]
            return f"not written: contract {op.contract_key}: {reason}"
        if op.product_key in self._blocked_products:
            return (
                f"not written: product {op.product_key}: {self._blocked_products[op.product_key]}"
            )
        return None

    def _learn(self, task: _Task) -> None:
        op = task.op
        if op.entity is Entity.CONTRACT:
            assert isinstance(op.key, ContractKey)
            if task.state == "done" and task.autotask_id is not None:
                self._contracts[op.key] = task.autotask_id
            elif task.state == "failed" and op.action is Action.CREATE:
                self._blocked_contracts[op.key] = task.error or "failed"
        elif op.entity is Entity.PRODUCT:
            assert isinstance(op.key, ProductKey)
            if task.state == "done" and task.autotask_id is not None:
                self._products[op.key] = task.autotask_id
            elif task.state == "failed" and op.action is Action.CREATE:
                self._blocked_products[op.key] = task.error or "failed"

    # -- sending (worker threads: HTTP only, no store) ----------------------------------------

    def _send(self, task: _Task) -> int:
        op = task.op
        for attempt in range(1, self._options.attempts + 1):
            try:
                return self._write(op)
            except UnknownOutcomeError as exc:
                logger.info("%s %s: outcome unknown (%s); looking it up", op.entity, op.key, exc)
                if exc.status is None:
                    time.sleep(self._options.settle_s)
                found = self._look_up(op)
                if found is not None:
                    return found
                if attempt == self._options.attempts:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _write(self, op: Operation) -> int:
        client, tenant = self._client, self._tenant
        if op.entity is Entity.CONTRACT:
            if op.action is Action.CREATE:
                return client.create("Contracts", records.contract_create_body(op, tenant))
            assert op.autotask_id is not None
            return client.update("Contracts", records.update_body(op, op.autotask_id))
        if op.entity is Entity.PRODUCT:
            if op.action is Action.CREATE:
                return client.create("Products", records.product_create_body(op))
            assert op.autotask_id is not None
            return client.update("Products", records.update_body(op, op.autotask_id))
        assert op.contract_key is not None and op.product_key is not None
        product_id = self._products.get(op.product_key)
        if op.action is Action.CREATE:
            contract_id = self._contracts[op.contract_key]
            assert product_id is not None
            body = records.charge_create_body(op, contract_id, product_id, tenant)
            return client.create_child("Contracts", contract_id, "Charges", body)
        assert op.autotask_id is not None
        contract_id = self._contracts[op.contract_key]
        body = records.update_body(op, op.autotask_id, product_id)
        return client.update_child("Contracts", contract_id, "Charges", body)

    def _look_up(self, op: Operation) -> int | None:
        """The id of the record the write was meant to produce, if Autotask has it now."""
        client = self._client
        if op.action is Action.UPDATE:
            return self._look_up_update(op)
        if op.entity is Entity.CONTRACT:
            assert isinstance(op.key, ContractKey)
            contracts = actual.find_contract(client, op.key, self._tenant)
            return min(c.id for c in contracts) if contracts else None
        if op.entity is Entity.PRODUCT:
            assert isinstance(op.key, ProductKey)
            products = actual.find_product(client, op.key)
            return min(p.id for p in products) if products else None
        assert isinstance(op.key, ChargeKey) and op.contract_key is not None
        charges = actual.find_charge(client, self._contracts[op.contract_key], op.key)
        return min(c.id for c in charges) if charges else None

    def _look_up_update(self, op: Operation) -> int | None:
        """An update is done when the record already holds the new values."""
        assert op.autotask_id is not None
        entity = {Entity.CONTRACT: "Contracts", Entity.PRODUCT: "Products"}.get(
            op.entity, "ContractCharges"
        )
        record = self._client.get(entity, op.autotask_id)
        if record is None:
            return None
        current = _comparable(op.entity, record)
        wanted = dict(op.fields)
        if "productID" in wanted and op.product_key in self._products:
            wanted["productID"] = self._products[op.product_key]
        if all(same_value(value, current.get(name)) for name, value in wanted.items()):
            return op.autotask_id
        return None

    # -- journal (main thread) ----------------------------------------------------------------

    def _journal(self, ids: Sequence[int], state: str) -> None:
        with self._store.transaction() as uow:
            uow.runs.set_operation_state(ids, state)

    def _finish(self, tasks: Sequence[_Task], result: ApplyResult) -> None:
        """Record finished writes, a whole wave in one transaction."""
        with self._store.transaction() as uow:
            for task in tasks:
                if task.state == "done" and task.autotask_id is not None:
                    uow.runs.set_operation_state(
                        [task.journal_id], "done", autotask_id=task.autotask_id
                    )
                    uow.exports.remember(
                        task.op.entity.value, str(task.op.key), task.autotask_id, task.report_id
                    )
                    result.done[task.journal_id] = task.autotask_id
                else:
                    uow.runs.set_operation_state([task.journal_id], "failed", error=task.error)
                    result.failed[task.journal_id] = task.error or "failed"

    def _beat(self) -> None:
        if time.monotonic() - self._last_beat >= self._options.heartbeat_s:
            self._last_beat = time.monotonic()
            with self._store.transaction() as uow:
                uow.runs.heartbeat(self._run_id)

    def _progress(self, done: int, total: int) -> None:
        if self._on_progress is not None:
            self._on_progress(done, total)


def _comparable(entity: Entity, record: Mapping[str, Any]) -> dict[str, Value]:
    if entity is Entity.CONTRACT:
        return records.contract(record, "").fields()
    if entity is Entity.PRODUCT:
        return records.product(record).fields()
    return records.charge(record).fields()
