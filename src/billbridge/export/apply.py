"""Applying a plan: journaled, concurrent within Autotask's limits, exactly once.

Each write is recorded in the run's journal as `sending` (committed, with the time it was sent)
before its request leaves, and marked `done` with the Autotask id, or `failed` with Autotask's
exact error, after. What happens when the outcome is not known depends on what Autotask said:

- it answered (a 5xx): the request is over, so the key is looked up at once; present, the
  write landed; absent, an opaque answer (`Error ID`, a SQL text) is a rejection with that
  text, and a bare 5xx is sent once more at most;
- it did not answer (a timeout, a lost connection): the write may still be running inside
  Autotask, and a lookup cannot prove it absent. The key waits until the write is older than
  the unknown-write horizon, is then looked up, and only if absent is sent again. The same
  holds for the writes of an export that was killed (journal entries still `sending`): their
  keys are not created again before the horizon has passed.

A fatal error (credentials, permissions, a protocol fault) stops the run at once: nothing
more is sent. Every other error fails its own write and the report it belongs to; the rest
goes on.

Contracts and products go first, a charge as soon as its contract and product exist; the
client keeps at most 3 requests in flight per endpoint, so different endpoints overlap.
Scheduling is incremental: a finished write releases exactly the charges that waited for it.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from billbridge.autotask import (
    AutotaskClient,
    AutotaskError,
    OpaqueServerError,
    UnknownOutcomeError,
)
from billbridge.domain.plan import Action, Operation, same_value
from billbridge.domain.records import ContractKey, Entity, ProductKey, fold
from billbridge.export.entities import WRITABLE, Refs, current_fields
from billbridge.export.journal import Beat as JournalBeat
from billbridge.export.journal import Intent, JournalWriter, Settled
from billbridge.export.tenant import TenantContext
from billbridge.store import Store
from billbridge.store.runs import InFlight, JournalState

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
Beat = Callable[[], None]


@dataclass(frozen=True, slots=True)
class ApplyOptions:
    workers: int = 12
    """Threads sending requests: contracts, charges and products, 3 each in flight and
    `ahead` each waiting for a slot."""
    per_endpoint: int = 3
    """Writes of one entity in flight at once: Autotask's thread limit per endpoint."""
    ahead: int = 1
    """Writes of one entity journaled `sending` beyond `per_endpoint`, each waiting at the
    client for a slot of the endpoint: a slot that frees is taken at once, without waiting
    for the journal to commit the next intent (about 3 ms of every 25 before). A crash
    leaves them `sending`, as for a write in flight: looked up by key after the horizon."""
    attempts: int = 3
    """Sends of one write at most, each after the previous outcome was looked up."""
    unknown_write_horizon_s: float = 300.0
    """How long a write whose outcome is unknown may still land in Autotask: its key is not
    written again before (longer than any time Autotask takes to carry out a request)."""
    heartbeat_s: float = 10.0


@dataclass(frozen=True, slots=True)
class Journaled:
    """One operation of a run with its journal entry: the record that goes from the plan to
    the journal to the result; outcomes are keyed by `journal_id`."""

    report_id: str
    op: Operation
    journal_id: int


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one write."""

    state: JournalState
    autotask_id: int | None = None
    error: str | None = None


@dataclass(slots=True)
class ApplyResult:
    """Per journal id, what became of the write; and what stopped the run, if anything."""

    outcomes: dict[int, Outcome] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    """What the run waited for, for the people reading it."""
    fatal: str | None = None
    """The exact text of the fatal error that stopped the run."""

    @property
    def done(self) -> dict[int, int]:
        return {
            i: o.autotask_id
            for i, o in self.outcomes.items()
            if o.state is JournalState.DONE and o.autotask_id is not None
        }

    @property
    def failed(self) -> dict[int, str]:
        return {
            i: o.error or o.state.value
            for i, o in self.outcomes.items()
            if o.state is not JournalState.DONE
        }


@dataclass(slots=True, eq=False)
class _Task:
    report_id: str
    op: Operation
    journal_id: int
    sends: int = 0
    look_up_first: bool = False
    """Look the key up before sending: an earlier send may have landed meanwhile."""
    sent_at: datetime | None = None
    missing: int = 0
    """Records (contract, product) the charge still waits for."""


@dataclass(frozen=True, slots=True)
class _Result:
    """A worker's answer: an outcome, a write to park until `until`, or a fatal error."""

    outcome: Outcome | None = None
    until: datetime | None = None
    fatal: str | None = None


Dependency = ContractKey | ProductKey


class Applier:
    def __init__(
        self,
        client: AutotaskClient,
        store: Store,
        run_id: int,
        tenant: TenantContext,
        options: ApplyOptions = ApplyOptions(),
        *,
        in_flight: Sequence[InFlight] = (),
        on_progress: Progress | None = None,
        on_beat: Beat | None = None,
    ) -> None:
        self._client = client
        self._store = store
        self._run_id = run_id
        self._tenant = tenant
        self._options = options
        self._on_progress = on_progress
        self._on_beat = on_beat
        self._horizon = timedelta(seconds=options.unknown_write_horizon_s)
        self._in_flight = _latest_sends(in_flight)
        self._ids: dict[Dependency, int] = {}
        self._blocked: dict[Dependency, str] = {}
        self._waiting: dict[Dependency, list[_Task]] = defaultdict(list)
        self._ready: dict[Entity, deque[_Task]] = defaultdict(deque)
        self._parked: list[tuple[datetime, int, _Task]] = []
        self._sequence = itertools.count()
        self._result = ApplyResult()
        self._last_beat = self._now()

    def apply(self, operations: Sequence[Journaled]) -> ApplyResult:
        tasks = self._tasks(operations)
        total = len(tasks)
        events: queue.Queue[tuple[_Task, _Result] | BaseException] = queue.Queue()
        self._journal = JournalWriter(self._store, on_error=events.put)
        try:
            for task in tasks:
                self._schedule(task)
            self._progress(total)
            with ThreadPoolExecutor(self._options.workers, thread_name_prefix="write") as pool:
                self._loop(pool, events, total)
            self._fail_left_over()
        finally:
            self._journal.close()
        self._progress(total)
        return self._result

    def _loop(
        self,
        pool: ThreadPoolExecutor,
        events: queue.Queue[tuple[_Task, _Result] | BaseException],
        total: int,
    ) -> None:
        """Send what is ready, learn from what finishes, wake for parked writes; never spin:
        it ends when nothing is in flight and nothing is parked."""
        busy: Counter[Entity] = Counter()
        in_flight = 0

        def send(task: _Task) -> None:
            pool.submit(lambda: events.put((task, self._run(task))))

        while True:
            self._unpark()
            if self._result.fatal is None:
                in_flight += self._launch(send, busy)
            if not in_flight and not self._parked:
                return
            timeout = self._options.heartbeat_s
            if self._parked:
                timeout = min(timeout, (self._parked[0][0] - self._now()).total_seconds())
            try:
                event = events.get(timeout=max(timeout, 0.0))
            except queue.Empty:
                self._beat()
                continue
            batch = [event]
            while True:
                try:
                    batch.append(events.get_nowait())
                except queue.Empty:
                    break
            completed = []
            for item in batch:
                if isinstance(item, BaseException):
                    raise item
                task, result = item
                busy[task.op.entity] -= 1
                in_flight -= 1
                completed.append((task, result))
            self._complete(completed)
            self._progress(total)
            self._beat()

    # -- scheduling ---------------------------------------------------------------------------

    def _tasks(self, operations: Sequence[Journaled]) -> list[_Task]:
        tasks = []
        for entry in operations:
            self._note_known(entry.op)
            if entry.op.writes:
                tasks.append(_Task(entry.report_id, entry.op, entry.journal_id))
        return tasks

    def _note_known(self, op: Operation) -> None:
        """Ids of records that exist already, and the keys a conflict leaves without one."""
        if not isinstance(op.key, ContractKey | ProductKey):
            return
        if op.action is Action.CONFLICT:
            self._blocked[op.key] = op.reason or "conflict"
        elif op.autotask_id is not None:
            self._ids[op.key] = op.autotask_id

    def _schedule(self, task: _Task) -> None:
        """Make `task` ready, park it behind an earlier export's write, or let it wait for
        the records it needs."""
        op = task.op
        if op.action is Action.CREATE:
            sent = self._in_flight.get((op.entity.value, fold(str(op.key))))
            if sent is not None and sent + self._horizon > self._now():
                task.look_up_first = True
                self._note_wait(task, sent, "a write of an earlier export")
                self._park(task, sent + self._horizon)
                return
        for need in self._needs(op):
            reason = self._blocked.get(need)
            if reason is not None:
                self._settle(task, Outcome(JournalState.FAILED, error=_not_written(need, reason)))
                return
            if need not in self._ids:
                task.missing += 1
                self._waiting[need].append(task)
        if task.missing == 0:
            self._ready[op.entity].append(task)

    def _needs(self, op: Operation) -> list[Dependency]:
        if op.entity is not Entity.CHARGE:
            return []
        assert op.contract_key is not None and op.product_key is not None
        needs: list[Dependency] = []
        if op.action is Action.CREATE or op.parent_id is None:
            needs.append(op.contract_key)
        if op.action is Action.CREATE or "productID" in op.fields:
            needs.append(op.product_key)
        return needs

    def _launch(self, send: Callable[[_Task], None], busy: Counter[Entity]) -> int:
        """Journal the ready writes that fit Autotask's thread limit as `sending`; the journal
        passes them to `send` once that is committed. Returns how many were launched."""
        chosen: list[_Task] = []
        for entity, ready in self._ready.items():
            while ready and busy[entity] < self._options.per_endpoint + self._options.ahead:
                chosen.append(ready.popleft())
                busy[entity] += 1
        if not chosen:
            return 0
        now = self._now()
        for task in chosen:
            task.sent_at = now

        def go() -> None:
            for task in chosen:
                send(task)

        # Durable before the requests leave: a crash from here on leaves `sending` entries
        # with their time, which keep the next export from writing these keys too early.
        self._journal.put(Intent([t.journal_id for t in chosen], now, go))
        return len(chosen)

    def _complete(self, completed: Iterable[tuple[_Task, _Result]]) -> None:
        settled: list[tuple[_Task, Outcome]] = []
        for task, result in completed:
            if result.fatal is not None:
                if self._result.fatal is None:
                    self._result.fatal = result.fatal
                settled.append((task, Outcome(JournalState.FAILED, error=result.fatal)))
            elif result.until is not None:
                self._note_wait(task, task.sent_at or self._now(), "its own write")
                self._park(task, result.until)
            else:
                assert result.outcome is not None
                settled.append((task, result.outcome))
        self._record(settled)
        for task, outcome in settled:
            self._learn(task, outcome)

    def _learn(self, task: _Task, outcome: Outcome) -> None:
        """A contract or product is known or lost: release or fail the charges that wait."""
        key = task.op.key
        if not isinstance(key, ContractKey | ProductKey):
            return
        if outcome.state is JournalState.DONE and outcome.autotask_id is not None:
            self._ids[key] = outcome.autotask_id
            for waiting in self._waiting.pop(key, []):
                waiting.missing -= 1
                if waiting.missing == 0:
                    self._ready[waiting.op.entity].append(waiting)
        elif task.op.action is Action.CREATE:
            reason = outcome.error or outcome.state.value
            self._blocked[key] = reason
            dependents = self._waiting.pop(key, [])
            for waiting in dependents:
                for other in self._needs(waiting.op):
                    if other != key and waiting in self._waiting.get(other, []):
                        self._waiting[other].remove(waiting)
            self._record(
                [
                    (w, Outcome(JournalState.FAILED, error=_not_written(key, reason)))
                    for w in dependents
                ]
            )

    def _park(self, task: _Task, until: datetime) -> None:
        heapq.heappush(self._parked, (until, next(self._sequence), task))

    def _unpark(self) -> None:
        now = self._now()
        while self._parked and self._parked[0][0] <= now:
            _, _, task = heapq.heappop(self._parked)
            task.look_up_first = True
            if self._result.fatal is not None:
                self._record([(task, self._stopped())])
                continue
            blocked = [n for n in self._needs(task.op) if n in self._blocked]
            if blocked:
                reason = _not_written(blocked[0], self._blocked[blocked[0]])
                self._record([(task, Outcome(JournalState.FAILED, error=reason))])
                continue
            missing = [n for n in self._needs(task.op) if n not in self._ids]
            if missing:
                task.missing = len(missing)
                for need in missing:
                    self._waiting[need].append(task)
            else:
                self._ready[task.op.entity].append(task)

    def _fail_left_over(self) -> None:
        """Whatever could not be sent: stopped by a fatal error, or waiting for a record that
        no write of this run produces (never left to spin)."""
        left = [t for queue in self._ready.values() for t in queue]
        for tasks in self._waiting.values():
            for task in tasks:
                if task not in left:
                    left.append(task)
                    if self._result.fatal is None:
                        logger.error("%s %s never became ready", task.op.entity, task.op.key)
        self._ready.clear()
        self._waiting.clear()
        outcomes = []
        for task in left:
            if self._result.fatal is not None:
                outcomes.append((task, self._stopped()))
            else:
                needs = ", ".join(str(n) for n in self._needs(task.op) if n not in self._ids)
                outcomes.append(
                    (
                        task,
                        Outcome(JournalState.FAILED, error=f"not written: no record for {needs}"),
                    )
                )
        self._record(outcomes)

    def _stopped(self) -> Outcome:
        return Outcome(
            JournalState.FAILED, error=f"not sent: the run stopped: {self._result.fatal}"
        )

    def _note_wait(self, task: _Task, sent: datetime, whose: str) -> None:
        until = sent + self._horizon
        self._result.notes.append(
            f"{task.op.entity.value} {task.op.key}: the outcome of {whose} (sent"
            f" {sent:%H:%M:%S} UTC) is unknown; not written again before {until:%H:%M:%S} UTC,"
            " then looked up by key"
        )

    # -- sending (worker threads: HTTP only, no store) ----------------------------------------

    def _run(self, task: _Task) -> _Result:
        try:
            return self._attempt(task)
        except AutotaskError as exc:
            if exc.kind == "fatal":
                return _Result(fatal=_reason(exc))
            return _Result(Outcome(JournalState.FAILED, error=_reason(exc)))
        except Exception as exc:  # a bug must fail one write, not leave the run interrupted
            logger.exception("%s %s failed unexpectedly", task.op.entity, task.op.key)
            return _Result(
                Outcome(JournalState.FAILED, error=f"internal error ({type(exc).__name__}: {exc})")
            )

    def _attempt(self, task: _Task) -> _Result:
        op = task.op
        if task.look_up_first:
            found = self._look_up(op)
            if found is not None:
                return _done(found)
        while True:
            task.sends += 1
            try:
                return _done(self._write(op))
            except OpaqueServerError as exc:
                # Autotask answered, so the request is over; it answers such a request the same
                # way every time: one lookup, then a rejection with its exact text.
                found = self._look_up(op)
                if found is not None:
                    return _done(found)
                return _Result(Outcome(JournalState.FAILED, error=_reason(exc)))
            except UnknownOutcomeError as exc:
                logger.info("%s %s: outcome unknown (%s)", op.entity, op.key, exc)
                found = self._look_up(op)
                if found is not None:
                    return _done(found)
                if task.sends >= self._options.attempts:
                    return _Result(Outcome(JournalState.UNKNOWN, error=_reason(exc)))
                if exc.status is not None or op.action is Action.UPDATE:
                    # Answered (the request is over), or an update (sending it twice changes
                    # nothing): safe to send again now.
                    continue
                # No answer: the write may still be running inside Autotask.
                sent = task.sent_at or self._now()
                return _Result(until=max(sent + self._horizon, self._now()))

    def _write(self, op: Operation) -> int:
        return WRITABLE[op.entity].write(self._client, op, self._tenant, self._refs(op))

    def _look_up(self, op: Operation) -> int | None:
        """The id of the record the write was meant to produce, if Autotask has it now."""
        if op.action is Action.UPDATE:
            return self._look_up_update(op)
        return WRITABLE[op.entity].find_created(self._client, op, self._tenant, self._refs(op))

    def _look_up_update(self, op: Operation) -> int | None:
        """An update is done when the record already holds the new values."""
        current = current_fields(self._client, op, self._tenant)
        if current is None:
            return None
        wanted = dict(op.fields)
        if "productID" in wanted and op.product_key in self._ids:
            wanted["productID"] = self._ids[op.product_key]
        quantum = self._tenant.unit_quantum
        if all(same_value(value, current.get(name), quantum) for name, value in wanted.items()):
            return op.autotask_id
        return None

    def _refs(self, op: Operation) -> Refs:
        """The contract and product a charge is written under, as this run knows them."""
        if op.entity is not Entity.CHARGE:
            return Refs()
        assert op.contract_key is not None and op.product_key is not None
        contract_id = op.parent_id if op.parent_id is not None else self._ids.get(op.contract_key)
        return Refs(contract_id, self._ids.get(op.product_key))

    # -- journal (main thread) ----------------------------------------------------------------

    def _record(self, settled: Sequence[tuple[_Task, Outcome]]) -> None:
        """Learn finished writes now; the journal thread records them, many per commit."""
        for task, outcome in settled:
            done = outcome.state is JournalState.DONE and outcome.autotask_id is not None
            if not done:
                logger.warning("%s %s: %s", task.op.entity.value, task.op.key, outcome.error)
            op = task.op
            self._journal.put(
                Settled(
                    task.journal_id,
                    outcome.state,
                    outcome.autotask_id,
                    outcome.error,
                    (op.entity.value, str(op.key), task.report_id) if done else None,
                )
            )
            self._result.outcomes[task.journal_id] = outcome

    def _settle(self, task: _Task, outcome: Outcome) -> None:
        self._record([(task, outcome)])

    def _beat(self) -> None:
        now = self._now()
        if (now - self._last_beat).total_seconds() >= self._options.heartbeat_s:
            self._last_beat = now
            self._journal.put(JournalBeat(self._run_id))
            if self._on_beat is not None:
                self._on_beat()

    def _progress(self, total: int) -> None:
        if self._on_progress is not None:
            self._on_progress(len(self._result.outcomes), total)

    def _now(self) -> datetime:
        return self._store.clock()


def _latest_sends(in_flight: Iterable[InFlight]) -> dict[tuple[str, str], datetime]:
    latest: dict[tuple[str, str], datetime] = {}
    for entry in in_flight:
        key = (entry.entity, fold(entry.key))
        if key not in latest or entry.sent_at > latest[key]:
            latest[key] = entry.sent_at
    return latest


def _done(autotask_id: int) -> _Result:
    return _Result(Outcome(JournalState.DONE, autotask_id=autotask_id))


def _reason(exc: AutotaskError) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason) if reason else str(exc)


def _not_written(need: Dependency, reason: str) -> str:
    what = "contract" if isinstance(need, ContractKey) else "product"
    if reason.startswith("not written: "):
        return reason
    return f"not written: {what} {need}: {reason}"
