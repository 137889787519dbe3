"""Jinja2 templates and the filters that format values for people.

Autoescaping is on for every template, and undefined names are errors, so a template that
refers to something a view forgot fails in the tests instead of rendering a blank.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

STATUS_CLASS = {
    # report states and statuses
    "exported": "good",
    "nothing_to_do": "muted",
    "needs_attention": "warn",
    "needs attention": "warn",
    "deferred": "warn",
    "not yet due": "muted",
    "due": "info",
    "changed": "info",
    "skipped": "warn",
    "failed": "bad",
    # runs
    "succeeded": "good",
    "partly_failed": "bad",
    "interrupted": "warn",
    "running": "info",
    "nothing_due": "muted",
    # operations
    "create": "good",
    "update": "info",
    "unchanged": "muted",
    "conflict": "bad",
    "done": "good",
    "sending": "info",
    "planned": "muted",
    "unknown": "warn",
    # plain colours
    "good": "good",
    "info": "info",
    "bad": "bad",
    "muted": "muted",
    # doctor
    "ok": "good",
    "warn": "warn",
    "fail": "bad",
}

STATUS_LABEL = {
    "nothing_to_do": "nothing to do",
    "needs_attention": "needs attention",
    "nothing_due": "nothing due",
    "partly_failed": "partly failed",
    "ok": "ok",
    "warn": "warning",
    "fail": "failing",
}


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("billbridge.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["status_class"] = lambda status: STATUS_CLASS.get(str(status), "muted")
    env.filters["status_label"] = lambda status: STATUS_LABEL.get(str(status), str(status))
    env.filters["when"] = when
    env.filters["day"] = day
    env.filters["epoch"] = lambda seconds: when(datetime.fromtimestamp(seconds, UTC))
    env.filters["until"] = until
    env.filters["value"] = value
    env.filters["plural"] = plural
    env.filters["ticks"] = ticks
    env.filters["gist"] = gist
    return env


def when(moment: datetime | None) -> str:
    """`2026-11-10 02:00 UTC`; naive times are UTC (SQLite returns them so)."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def day(moment: date | None) -> str:
    return "" if moment is None else moment.strftime("%Y-%m-%d")


def until(moment: datetime, now: datetime) -> str:
    """`in 3 h 05 min`, `now`."""
    seconds = int((moment - now).total_seconds())
    if seconds <= 30:
        return "now"
    minutes = (seconds + 59) // 60
    hours, minutes = divmod(minutes, 60)
    if hours >= 24:
        days, hours = divmod(hours, 24)
        return f"in {days} d {hours} h"
    if hours:
        return f"in {hours} h {minutes:02d} min"
    return f"in {minutes} min"


def value(item: Any) -> str:
    """A field value of an operation's changes, as sent to Autotask."""
    if item is None:
        return "(empty)"
    if isinstance(item, bool):
        return "yes" if item else "no"
    return str(item)


def ticks(text: str | None) -> Markup:
    """Text whose `backticked` parts are commands: escaped, with those parts as code."""
    escaped = str(escape(text or ""))
    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped))


def gist(op: Any) -> str:
    """The heart of an operation in a few words (its fields are shown in full beside it)."""
    changes: dict[str, Any] = op.changes
    if op.action == "create":
        if op.entity == "Contract":
            return (
                f"{changes.get('contractName')}, {changes.get('startDate')} to"
                f" {changes.get('endDate')}"
            )
        if op.entity == "ContractCharge":
            return (
                f"{changes.get('name')}: {changes.get('unitQuantity')} x"
                f" {changes.get('unitPrice')} (cost {changes.get('unitCost')})"
            )
        if op.entity == "Product":
            return (
                f"{changes.get('name')}: price {changes.get('unitPrice')},"
                f" cost {changes.get('unitCost')}"
            )
    names = [name for name in changes if name != "description"]
    if "description" in changes:
        names.append("description")
    return ", ".join(names)


def plural(count: int, singular: str, many: str | None = None) -> str:
    return f"{count} {singular if count == 1 else (many or singular + 's')}"
