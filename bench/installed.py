"""Run billbridge the way an installed copy runs: with its modules compiled to bytecode.

`pip install` compiles a package's modules when it installs them, so an installed billbridge
never compiles its own source at start-up. A checkout run with `PYTHONDONTWRITEBYTECODE` set
(as some shells and containers do) compiles every module of billbridge on every command,
about 0.3 s a command on the development machine: a cost users do not pay, which the
benchmarks would otherwise count.
"""

from __future__ import annotations

import compileall
from pathlib import Path

import billbridge


def compile_billbridge(source: Path | None = None) -> None:
    """Compile the billbridge package (this one, or the one under `source`) to bytecode."""
    package = source / "billbridge" if source is not None else Path(billbridge.__file__).parent
    compileall.compile_dir(package, quiet=1)
