"""Placeholder until the web admin lands (issue 5)."""

from __future__ import annotations

from rich.console import Console

from billbridge.config import Settings
from billbridge.store import Store


def serve(settings: Settings, store: Store, *, host: str, port: int, console: Console) -> None:
    raise NotImplementedError("the web admin is being built")
