"""Binding Microsoft's columns by name, whatever their order, case or spelling.

Microsoft's CSV headers (`BillingPreTaxTotal`), the API's JSON keys (`billingPreTaxTotal`) and
the variants seen in the field (`TotalForCustomer` for `Total`, `unitOfMeasure` for `Unit`, a
byte-order mark before the first header) all reduce to one canonical key: lower case, letters
and digits only. Columns billbridge does not use are ignored, so new Microsoft columns do not
break an import.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

_NOT_ALNUM = re.compile(r"[^0-9a-z]")


def canonical(name: str) -> str:
    """`PCToBCExchangeRate`, `pcToBCExchangeRate` and `\\ufeffpc_to_bc exchange rate` agree."""
    return _NOT_ALNUM.sub("", name.lower())


@dataclass(frozen=True, slots=True)
class Field:
    """A value billbridge reads, under Microsoft's name and the other names it goes by."""

    name: str
    aliases: tuple[str, ...] = ()
    required: bool = False

    @property
    def keys(self) -> tuple[str, ...]:
        """Canonical keys in order of preference: where a file has two, the first wins."""
        return tuple(dict.fromkeys(canonical(n) for n in (self.name, *self.aliases)))


@dataclass(frozen=True, slots=True)
class Binding:
    """Which column of one file holds each field: the canonical key, and the name as written."""

    keys: Mapping[str, str]
    written: Mapping[str, str]

    def key(self, field: Field) -> str | None:
        return self.keys.get(field.name)

    def label(self, field: Field) -> str:
        """The column's name as the file writes it, for messages."""
        key = self.keys.get(field.name)
        return self.written.get(key, field.name) if key else field.name


def bind(names: Sequence[str], fields: Iterable[Field]) -> tuple[Binding, list[tuple[str, str]]]:
    """Bind `fields` to a file's column names; also returns (column, problem) pairs.

    Problems: a required field with no column, and a column the reader uses that appears twice
    (in JSON, where keys are per object, `names` is the union and never repeats).
    """
    written: dict[str, str] = {}
    repeated: set[str] = set()
    for name in names:
        key = canonical(name)
        if key in written:
            repeated.add(key)
        else:
            written[key] = name.lstrip("\ufeff").strip()
    keys: dict[str, str] = {}
    problems: list[tuple[str, str]] = []
    for field in fields:
        found = next((k for k in field.keys if k in written), None)
        if found is None:
            if field.required:
                problems.append((field.name, "required column is missing"))
            continue
        keys[field.name] = found
        if found in repeated:
            problems.append((written[found], "column appears twice in the header"))
    return Binding(keys, written), problems


def has_all(keys: Iterable[str], *names: str) -> bool:
    """Whether every one of `names` (in any spelling) is among the canonical `keys`."""
    present = set(keys)
    return all(canonical(name) in present for name in names)
