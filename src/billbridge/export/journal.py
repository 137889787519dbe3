"""The export journal, written on a thread of its own, many entries per commit.

The scheduler hands the journal what it decided (intents to send, outcomes learnt, heartbeats)
and goes straight on; the journal thread commits whatever has queued up in one transaction.
An intent stays durable before its request leaves: the journal thread itself passes the
requests on (`send`) only once the commit that records them `sending` has returned.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from billbridge.store import Store
from billbridge.store.runs import JournalState, Settlement

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Intent:
    """Writes about to be sent: recorded `sending` at `sent_at`, then `send` is called."""

    operation_ids: Sequence[int]
    sent_at: datetime
    send: Callable[[], None]


@dataclass(frozen=True, slots=True)
class Settled:
    """A write's outcome; a `done` create or update also goes into the key map."""

    operation_id: int
    state: JournalState
    autotask_id: int | None = None
    error: str | None = None
    remember: tuple[str, str, str] | None = None
    """(entity, key, report id) of a record written, for the key map."""


@dataclass(frozen=True, slots=True)
class Beat:
    run_id: int


Entry = Intent | Settled | Beat


@dataclass
class JournalWriter:
    """Owns one thread; `close()` flushes everything and reports a failure of the store."""

    store: Store
    on_error: Callable[[BaseException], None]
    """Told (from the journal thread) when the store fails: nothing more is sent then."""
    _queue: queue.Queue[Entry | None] = field(default_factory=queue.Queue)
    _thread: threading.Thread | None = None
    error: BaseException | None = None

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="journal", daemon=True)
        self._thread.start()

    def put(self, entry: Entry) -> None:
        self._queue.put(entry)

    def close(self) -> None:
        self._queue.put(None)
        assert self._thread is not None
        self._thread.join()
        if self.error is not None:
            raise self.error

    def _loop(self) -> None:
        closing = False
        while not closing:
            batch: list[Entry] = []
            item = self._queue.get()
            while True:
                if item is None:
                    closing = True
                else:
                    batch.append(item)
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if not batch or self.error is not None:
                continue
            try:
                self._commit(batch)
            except Exception as exc:  # the store failed: report it, send nothing more
                logger.exception("the export journal cannot be written")
                self.error = exc
                self.on_error(exc)
                continue
            for entry in batch:
                if isinstance(entry, Intent):
                    entry.send()

    def _commit(self, batch: Sequence[Entry]) -> None:
        """One transaction, one statement per kind of entry (many rows each)."""
        intents = [(e.operation_ids, e.sent_at) for e in batch if isinstance(e, Intent)]
        settled = [e for e in batch if isinstance(e, Settled)]
        beats = {e.run_id for e in batch if isinstance(e, Beat)}
        with self.store.transaction() as uow:
            uow.runs.mark_sending(intents)
            uow.runs.settle(
                [Settlement(e.operation_id, e.state, e.autotask_id, e.error) for e in settled]
            )
            uow.exports.remember_many(
                [
                    (*e.remember[:2], e.autotask_id, e.remember[2])
                    for e in settled
                    if e.remember is not None and e.autotask_id is not None
                ]
            )
            for run_id in beats:
                uow.runs.heartbeat(run_id)
