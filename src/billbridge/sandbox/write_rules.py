"""Deterministic write faults for tests: writes matching a predicate fail or are slow.

    rule = runtime.reject_writes("Contracts", lambda body: body["contractName"] == "X")
    rule = runtime.slow_writes("ContractCharges", delay_ms=35_000, times=1)
    rule.hits, rule.texts
    runtime.clear_write_rules()

A rule applies to POST, PATCH, PUT and DELETE of its entity (the route name, case-insensitive:
`ContractCharges` also covers `/Contracts/{id}/Charges`). The predicate gets the request's JSON
body as the client sent it (an empty dict for a DELETE); None matches every write. `times`
limits a rule to its first N matches. Rules are checked in the order they were added; the
first that matches decides.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from billbridge.sandbox.errors import opaque_message

WritePredicate = Callable[[Mapping[str, Any]], bool]
RuleKind = Literal["reject", "slow"]

#: Opaque error ids count from here, like Autotask's (KelvinTegelaar/AutotaskAPI issue 25).
FIRST_ERROR_ID = 1165


@dataclass
class WriteRule:
    """One rule: which writes it catches and what it does to them."""

    kind: RuleKind
    entity: str
    predicate: WritePredicate | None = None
    text: str | None = None  # reject: the error text (None: an opaque Error ID text)
    delay_ms: int = 0  # slow: how long the write waits before it is carried out
    times: int | None = None
    hits: int = 0
    texts: list[str] = field(default_factory=list)

    def matches(self, entity: str, body: Mapping[str, Any]) -> bool:
        if entity.casefold() != self.entity.casefold():
            return False
        if self.times is not None and self.hits >= self.times:
            return False
        return self.predicate is None or bool(self.predicate(body))


class WriteRules:
    """The rules of one sandbox, thread-safe; also numbers the opaque error ids."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[WriteRule] = []
        self._error_ids = itertools.count(FIRST_ERROR_ID)

    def add(self, rule: WriteRule) -> WriteRule:
        if rule.times is not None and rule.times < 1:
            raise ValueError("times must be >= 1")
        if rule.delay_ms < 0:
            raise ValueError("delay_ms must be >= 0")
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def opaque_text(self) -> str:
        """A new opaque 500 text (each with its own error id)."""
        with self._lock:
            return opaque_message(next(self._error_ids))

    def match(self, entity: str, body: object) -> tuple[WriteRule, str | None] | None:
        """The first rule catching this write, counted as a hit, with the text it answers
        (reject) or None (slow)."""
        payload: Mapping[str, Any] = body if isinstance(body, Mapping) else {}
        with self._lock:
            rules = list(self._rules)
        for rule in rules:
            try:
                caught = rule.matches(entity, payload)
            except (LookupError, TypeError, ValueError, AttributeError):
                # a predicate that cannot read this body does not match it
                caught = False
            if not caught:
                continue
            with self._lock:
                rule.hits += 1
                text = None
                if rule.kind == "reject":
                    text = rule.text or opaque_message(next(self._error_ids))
                    rule.texts.append(text)
            return rule, text
        return None
